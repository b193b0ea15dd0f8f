#pragma once
// Every failure in vkdrop is one of these exceptions. The message says what was wrong and what to do.

#include <vulkan/vulkan.h>

#include <source_location>
#include <stdexcept>
#include <string>

namespace vkdrop {

// Base of all vkdrop errors: catch this to handle any of them.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A Vulkan call returned an error code.
class VulkanError : public Error {
 public:
  VulkanError(VkResult result, const std::string& message) : Error(message), result_(result) {}
  VkResult result() const { return result_; }

 private:
  VkResult result_;
};

// No Vulkan loader, no usable device, or the requested device does not exist.
class DeviceError : public Error {
 public:
  using Error::Error;
};

// A tensor of the wrong shape, or layers whose shapes do not chain.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// A bad argument value (p outside [0, 1], a batch size of 0, ...).
class ArgumentError : public Error {
 public:
  using Error::Error;
};

// A data or checkpoint file that is missing, truncated, corrupt or does not match.
class DataError : public Error {
 public:
  using Error::Error;
};

// Training diverged (NaN or inf in the loss).
class NumericalError : public Error {
 public:
  using Error::Error;
};

// The name of a VkResult, e.g. "VK_ERROR_OUT_OF_DEVICE_MEMORY".
const char* result_name(VkResult result);

// Throws VulkanError naming the call, the result and the source location unless result is VK_SUCCESS.
void check(VkResult result, const char* call, std::source_location where = std::source_location::current());

}  // namespace vkdrop

// VKDROP_CHECK(vkCreateBuffer(...)): the call's text goes into the error message.
#define VKDROP_CHECK(call) ::vkdrop::check((call), #call)

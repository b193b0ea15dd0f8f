#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

namespace vkdrop {

const char* result_name(VkResult result) {
  switch (result) {
#define VKDROP_RESULT(name) \
  case name:                \
    return #name;
    VKDROP_RESULT(VK_SUCCESS)
    VKDROP_RESULT(VK_NOT_READY)
    VKDROP_RESULT(VK_TIMEOUT)
    VKDROP_RESULT(VK_EVENT_SET)
    VKDROP_RESULT(VK_EVENT_RESET)
    VKDROP_RESULT(VK_INCOMPLETE)
    VKDROP_RESULT(VK_ERROR_OUT_OF_HOST_MEMORY)
    VKDROP_RESULT(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    VKDROP_RESULT(VK_ERROR_INITIALIZATION_FAILED)
    VKDROP_RESULT(VK_ERROR_DEVICE_LOST)
    VKDROP_RESULT(VK_ERROR_MEMORY_MAP_FAILED)
    VKDROP_RESULT(VK_ERROR_LAYER_NOT_PRESENT)
    VKDROP_RESULT(VK_ERROR_EXTENSION_NOT_PRESENT)
    VKDROP_RESULT(VK_ERROR_FEATURE_NOT_PRESENT)
    VKDROP_RESULT(VK_ERROR_INCOMPATIBLE_DRIVER)
    VKDROP_RESULT(VK_ERROR_TOO_MANY_OBJECTS)
    VKDROP_RESULT(VK_ERROR_FORMAT_NOT_SUPPORTED)
    VKDROP_RESULT(VK_ERROR_FRAGMENTED_POOL)
    VKDROP_RESULT(VK_ERROR_UNKNOWN)
    VKDROP_RESULT(VK_ERROR_OUT_OF_POOL_MEMORY)
    VKDROP_RESULT(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    VKDROP_RESULT(VK_ERROR_FRAGMENTATION)
    VKDROP_RESULT(VK_PIPELINE_COMPILE_REQUIRED)
#undef VKDROP_RESULT
    default:
      return "VkResult(unknown)";
  }
}

void check(VkResult result, const char* call, std::source_location where) {
  if (result == VK_SUCCESS) return;
  std::string hint;
  switch (result) {
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_OUT_OF_HOST_MEMORY:
      hint = " Reduce the batch size or the model, or choose a device with more memory (VKDROP_DEVICE).";
      break;
    case VK_ERROR_DEVICE_LOST:
      hint = " The GPU driver reset the device; a shader may have run too long or out of bounds.";
      break;
    case VK_ERROR_INCOMPATIBLE_DRIVER:
      hint = " No compatible Vulkan driver: install mesa-vulkan-drivers (lavapipe) or your GPU's driver.";
      break;
    case VK_ERROR_LAYER_NOT_PRESENT:
      hint = " Install vulkan-validationlayers, or unset VKDROP_VALIDATION.";
      break;
    default:
      break;
  }
  throw VulkanError(result, fmt::format("{} failed with {} at {}:{}.{}", call, result_name(result),
                                        where.file_name(), where.line(), hint));
}

}  // namespace vkdrop

#pragma once
// RAII for Vulkan handles: one owner, moved not copied, destroyed with the function that matches its type.

#include <vulkan/vulkan.h>

#include <utility>

namespace vkdrop {

// Owns a handle created from a VkDevice (a buffer, a pipeline, ...). `Destroy` is the vkDestroy*/vkFree*
// function of that type, so the owner cannot pair a handle with the wrong destructor.
template <typename Handle, void (*Destroy)(VkDevice, Handle, const VkAllocationCallbacks*)>
class DeviceHandle {
 public:
  DeviceHandle() = default;
  DeviceHandle(VkDevice device, Handle handle) : device_(device), handle_(handle) {}
  DeviceHandle(const DeviceHandle&) = delete;
  DeviceHandle& operator=(const DeviceHandle&) = delete;
  DeviceHandle(DeviceHandle&& other) noexcept
      : device_(other.device_), handle_(std::exchange(other.handle_, VK_NULL_HANDLE)) {}
  DeviceHandle& operator=(DeviceHandle&& other) noexcept {
    if (this != &other) {
      reset();
      device_ = other.device_;
      handle_ = std::exchange(other.handle_, VK_NULL_HANDLE);
    }
    return *this;
  }
  ~DeviceHandle() { reset(); }

  void reset() {
    if (handle_ != VK_NULL_HANDLE) Destroy(device_, handle_, nullptr);
    handle_ = VK_NULL_HANDLE;
  }
  Handle get() const { return handle_; }
  const Handle* ptr() const { return &handle_; }  // for vk* calls taking an array of one
  operator Handle() const { return handle_; }  // NOLINT: pass straight to vk* calls
  explicit operator bool() const { return handle_ != VK_NULL_HANDLE; }

 private:
  VkDevice device_ = VK_NULL_HANDLE;
  Handle handle_ = VK_NULL_HANDLE;
};

// Owns a VkInstance and, when validation is on, the debug messenger created from it (destroyed first).
class UniqueInstance {
 public:
  UniqueInstance() = default;
  explicit UniqueInstance(VkInstance instance) : instance_(instance) {}
  UniqueInstance(const UniqueInstance&) = delete;
  UniqueInstance& operator=(const UniqueInstance&) = delete;
  UniqueInstance(UniqueInstance&& other) noexcept
      : instance_(std::exchange(other.instance_, VK_NULL_HANDLE)),
        messenger_(std::exchange(other.messenger_, VK_NULL_HANDLE)) {}
  UniqueInstance& operator=(UniqueInstance&& other) noexcept {
    if (this != &other) {
      reset();
      instance_ = std::exchange(other.instance_, VK_NULL_HANDLE);
      messenger_ = std::exchange(other.messenger_, VK_NULL_HANDLE);
    }
    return *this;
  }
  ~UniqueInstance() { reset(); }

  // Takes ownership of a messenger created from this instance.
  void own_messenger(VkDebugUtilsMessengerEXT messenger) { messenger_ = messenger; }
  void reset() {
    if (messenger_ != VK_NULL_HANDLE) {
      auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
          vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
      if (destroy != nullptr) destroy(instance_, messenger_, nullptr);
      messenger_ = VK_NULL_HANDLE;
    }
    if (instance_ != VK_NULL_HANDLE) vkDestroyInstance(instance_, nullptr);
    instance_ = VK_NULL_HANDLE;
  }
  VkInstance get() const { return instance_; }
  operator VkInstance() const { return instance_; }  // NOLINT: pass straight to vk* calls

 private:
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
};

// Owns a VkDevice. Everything created from it must be destroyed first: declare its owners after this one.
class UniqueDevice {
 public:
  UniqueDevice() = default;
  explicit UniqueDevice(VkDevice device) : device_(device) {}
  UniqueDevice(const UniqueDevice&) = delete;
  UniqueDevice& operator=(const UniqueDevice&) = delete;
  UniqueDevice(UniqueDevice&& other) noexcept : device_(std::exchange(other.device_, VK_NULL_HANDLE)) {}
  UniqueDevice& operator=(UniqueDevice&& other) noexcept {
    if (this != &other) {
      reset();
      device_ = std::exchange(other.device_, VK_NULL_HANDLE);
    }
    return *this;
  }
  ~UniqueDevice() { reset(); }

  void reset() {
    if (device_ != VK_NULL_HANDLE) vkDestroyDevice(device_, nullptr);
    device_ = VK_NULL_HANDLE;
  }
  VkDevice get() const { return device_; }
  operator VkDevice() const { return device_; }  // NOLINT: pass straight to vk* calls
  explicit operator bool() const { return device_ != VK_NULL_HANDLE; }

 private:
  VkDevice device_ = VK_NULL_HANDLE;
};

// Owns a primary command buffer allocated from a pool; freed back to it. The owner must make sure the
// device no longer runs it (a Recorder waits for its fences first).
class UniqueCommandBuffer {
 public:
  UniqueCommandBuffer() = default;
  UniqueCommandBuffer(VkDevice device, VkCommandPool pool, VkCommandBuffer cmd) : device_(device), pool_(pool), cmd_(cmd) {}
  UniqueCommandBuffer(const UniqueCommandBuffer&) = delete;
  UniqueCommandBuffer& operator=(const UniqueCommandBuffer&) = delete;
  UniqueCommandBuffer(UniqueCommandBuffer&& other) noexcept
      : device_(other.device_), pool_(other.pool_), cmd_(std::exchange(other.cmd_, VK_NULL_HANDLE)) {}
  UniqueCommandBuffer& operator=(UniqueCommandBuffer&& other) noexcept {
    if (this != &other) {
      reset();
      device_ = other.device_;
      pool_ = other.pool_;
      cmd_ = std::exchange(other.cmd_, VK_NULL_HANDLE);
    }
    return *this;
  }
  ~UniqueCommandBuffer() { reset(); }

  void reset() {
    if (cmd_ != VK_NULL_HANDLE) vkFreeCommandBuffers(device_, pool_, 1, &cmd_);
    cmd_ = VK_NULL_HANDLE;
  }
  VkCommandBuffer get() const { return cmd_; }
  const VkCommandBuffer* ptr() const { return &cmd_; }
  operator VkCommandBuffer() const { return cmd_; }  // NOLINT: pass straight to vk* calls

 private:
  VkDevice device_ = VK_NULL_HANDLE;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
};

using UniqueBuffer = DeviceHandle<VkBuffer, vkDestroyBuffer>;
using UniqueMemory = DeviceHandle<VkDeviceMemory, vkFreeMemory>;
using UniqueShaderModule = DeviceHandle<VkShaderModule, vkDestroyShaderModule>;
using UniquePipeline = DeviceHandle<VkPipeline, vkDestroyPipeline>;
using UniquePipelineLayout = DeviceHandle<VkPipelineLayout, vkDestroyPipelineLayout>;
using UniquePipelineCache = DeviceHandle<VkPipelineCache, vkDestroyPipelineCache>;
using UniqueDescriptorSetLayout = DeviceHandle<VkDescriptorSetLayout, vkDestroyDescriptorSetLayout>;
using UniqueDescriptorPool = DeviceHandle<VkDescriptorPool, vkDestroyDescriptorPool>;
using UniqueCommandPool = DeviceHandle<VkCommandPool, vkDestroyCommandPool>;
using UniqueFence = DeviceHandle<VkFence, vkDestroyFence>;
using UniqueQueryPool = DeviceHandle<VkQueryPool, vkDestroyQueryPool>;
using UniqueBufferView = DeviceHandle<VkBufferView, vkDestroyBufferView>;

}  // namespace vkdrop

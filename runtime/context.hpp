#pragma once
// The Vulkan instance and the one device vkdrop computes on, with its queue, its pipeline cache and the
// compiled kernels. Everything else (arenas, recorders, models) is made from a Context and must not outlive it.

#include <vkdrop/runtime/handle.hpp>

#include <vulkan/vulkan.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <typeindex>
#include <vector>

namespace vkdrop {

class Kernel;
class Arena;
class HostBuffer;
struct BufferSlice;

// What a device is and the limits that matter for compute.
struct DeviceInfo {
  uint32_t index = 0;            // position in vkEnumeratePhysicalDevices order (VKDROP_DEVICE=<index>)
  std::string name;
  VkPhysicalDeviceType type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
  uint32_t vendor_id = 0;
  uint32_t device_id = 0;
  std::string driver;            // driver name and info, e.g. "llvmpipe / Mesa 22.3.6 (LLVM 15.0.6)"
  uint32_t driver_version = 0;
  uint32_t api_version = 0;      // the device's Vulkan version (VK_MAKE_API_VERSION)
  // Whether the device runs shaders that target Vulkan major.minor (vkdrop asks for at most 1.2).
  bool supports_vulkan(uint32_t major, uint32_t minor) const {
    return VK_API_VERSION_MAJOR(api_version) > major ||
           (VK_API_VERSION_MAJOR(api_version) == major && VK_API_VERSION_MINOR(api_version) >= minor);
  }
  std::array<uint8_t, VK_UUID_SIZE> pipeline_cache_uuid{};
  uint64_t device_local_bytes = 0;  // largest device-local heap
  uint32_t subgroup_size = 0;
  bool subgroup_arithmetic = false;  // basic and arithmetic subgroup operations (subgroupAdd) in compute shaders
  bool subgroup_shuffle = false;     // subgroupShuffle in compute shaders
  bool subgroup_ballot = false;      // subgroupBroadcast (and the other ballot operations) in compute shaders
  // 64-bit integers in shaders (the shaderInt64 feature, enabled on the device when present). Optional: only CPU
  // devices' stores use it (ops::u64_stores).
  bool shader_int64 = false;
  std::array<uint32_t, 3> max_workgroup_size{};
  uint32_t max_workgroup_invocations = 0;
  std::array<uint32_t, 3> max_workgroup_count{};
  uint32_t max_shared_memory_bytes = 0;
  uint64_t max_storage_buffer_range = 0;
  uint64_t min_storage_buffer_offset_alignment = 0;
  uint64_t min_texel_buffer_offset_alignment = 0;
  uint32_t max_texel_buffer_elements = 0;
  // Where any slice a kernel binds must start: storage buffers and texel-buffer views both.
  uint64_t binding_offset_alignment() const {
    return std::max(min_storage_buffer_offset_alignment, min_texel_buffer_offset_alignment);
  }
  uint32_t max_push_constants_bytes = 0;
  float timestamp_period_ns = 0;  // nanoseconds per timestamp tick; 0 when timestamps are unsupported
  bool is_cpu() const { return type == VK_PHYSICAL_DEVICE_TYPE_CPU; }
};

const char* device_type_name(VkPhysicalDeviceType type);
std::string vendor_name(uint32_t vendor_id);

struct ContextOptions {
  // Index ("1") or case-insensitive name substring ("llvmpipe", "H100"). Empty: the VKDROP_DEVICE
  // environment variable, and if that is unset the best device (discrete > integrated > virtual > CPU).
  std::string device;
  // Enable the Khronos validation layer. Empty: on when VKDROP_VALIDATION=1.
  std::optional<bool> validation;
  // Use the device's 64-bit integers (shaderInt64) where it has them: CPU devices then run the kernels' `_u64`
  // twins (ops::u64_stores). Empty: on, unless VKDROP_SHADER_INT64=0, which runs the kernels of devices without
  // them (the tests do, to cover those kernels on lavapipe).
  std::optional<bool> shader_int64;
  // Where the pipeline cache lives. Empty: VKDROP_CACHE_DIR, else $XDG_CACHE_HOME/vkdrop, else ~/.cache/vkdrop.
  std::filesystem::path cache_dir;
};

// State that a higher layer keeps per Context, made on first use (ops' matmul tuner: Context::extension).
class ContextExtension {
 public:
  virtual ~ContextExtension() = default;
};

class Context {
 public:
  explicit Context(ContextOptions options = {});
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Every Vulkan device on this machine. Throws DeviceError when there is no loader, driver or device.
  static std::vector<DeviceInfo> list_devices();

  const DeviceInfo& info() const { return info_; }
  VkInstance instance() const { return instance_.get(); }
  VkPhysicalDevice physical_device() const { return physical_device_; }
  VkDevice device() const { return device_.get(); }
  VkQueue queue() const { return queue_; }
  uint32_t queue_family() const { return queue_family_; }
  VkCommandPool command_pool() const { return command_pool_; }
  VkPipelineCache pipeline_cache() const { return pipeline_cache_; }
  bool validation_enabled() const { return validation_; }
  bool timestamps_supported() const { return info_.timestamp_period_ns > 0; }
  const std::filesystem::path& pipeline_cache_path() const { return pipeline_cache_path_; }

  // Memory type for device-local storage, and for host-visible staging (coherent; cached if `readback`).
  uint32_t device_memory_type(uint32_t allowed_types) const;
  uint32_t staging_memory_type(uint32_t allowed_types, bool readback) const;

  // The compiled pipeline for an embedded shader with these specialization constants (constant_id 0, 1,
  // ...), built once per Context and then shared.
  const Kernel& kernel(const std::string& shader, std::span<const uint32_t> specialization = {});

  // 16 bytes of device memory (a whole texel of any format a kernel binds) for a dispatch to bind where a
  // binding is not read but must name a valid buffer. Its contents are unspecified; never write it.
  const BufferSlice& placeholder();

  // Copy between host memory and a device buffer through a staging buffer; blocks until done.
  void upload(const BufferSlice& dst, const void* src, uint64_t bytes);
  void download(void* dst, const BufferSlice& src, uint64_t bytes);

  // Submit command buffers (the same one may appear several times when recorded for simultaneous use)
  // and wait for all of them.
  void submit_and_wait(std::span<const VkCommandBuffer> commands);

  // Write the pipeline cache to disk now (also done by the destructor). A failure is a warning.
  void save_pipeline_cache() const;

  // The one T of this Context, made by T(Context&) on first use and destroyed with the Context, before any of
  // its Vulkan objects: where a layer above the runtime keeps per-device state (ops::MatmulTuner) without the
  // runtime knowing it. T derives from ContextExtension.
  template <class T>
  T& extension() {
    std::lock_guard<std::mutex> lock(extensions_mutex_);
    std::unique_ptr<ContextExtension>& slot = extensions_[std::type_index(typeid(T))];
    if (!slot) slot = std::make_unique<T>(*this);
    return static_cast<T&>(*slot);
  }

 private:
  void transfer(const BufferSlice& device_side, void* host, uint64_t bytes, bool to_device);

  DeviceInfo info_;
  bool validation_ = false;
  // Owners are declared in creation order, so they are destroyed in reverse: everything made from the
  // device (command pool, pipeline cache, staging buffer, kernels) before the device, the device before
  // the instance.
  UniqueInstance instance_;
  VkPhysicalDevice physical_device_ = VK_NULL_HANDLE;
  UniqueDevice device_;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  VkPhysicalDeviceMemoryProperties memory_{};
  std::filesystem::path pipeline_cache_path_;
  UniqueCommandPool command_pool_;
  UniquePipelineCache pipeline_cache_;
  std::unique_ptr<HostBuffer> staging_;  // uploads and downloads pass through it
  std::mutex kernels_mutex_;
  std::map<std::string, std::unique_ptr<Kernel>> kernels_;
  std::unique_ptr<Arena> placeholder_arena_;  // holds placeholder_, made on first use
  std::unique_ptr<BufferSlice> placeholder_;
  std::mutex extensions_mutex_;
  std::map<std::type_index, std::unique_ptr<ContextExtension>> extensions_;  // last: destroyed first
};

// Validation messages (warnings and errors) reported by the Khronos layer since the last call, from every
// Context in the process. The tests fail any test case after which this is not empty.
std::vector<std::string> take_validation_messages();

}  // namespace vkdrop

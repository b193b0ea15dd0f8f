#include <vkdrop/runtime/context.hpp>

#include <vkdrop/runtime/host_buffer.hpp>

#include <vkdrop/runtime/arena.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/faults.hpp>
#include <vkdrop/runtime/kernel.hpp>
#include <vkdrop/runtime/pipeline_cache.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <system_error>

#include <unistd.h>

namespace vkdrop {

namespace {

constexpr const char* k_validation_layer = "VK_LAYER_KHRONOS_validation";
constexpr const char* k_install_hint =
    "Install a Vulkan driver: on Debian/Ubuntu `apt-get install mesa-vulkan-drivers libvulkan1` gives "
    "lavapipe, a Vulkan device on the CPU (./vkdrop.sh setup does this); on a GPU install its vendor driver.";

std::mutex g_validation_mutex;
std::vector<std::string> g_validation_messages;

VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                      VkDebugUtilsMessageTypeFlagsEXT /*types*/,
                                                      const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                      void* /*user*/) {
  const char* level = (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) ? "error" : "warning";
  std::string message = fmt::format("[vulkan validation {}] {}", level, data->pMessage ? data->pMessage : "");
  std::cerr << message << "\n";
  std::lock_guard lock(g_validation_mutex);
  g_validation_messages.push_back(std::move(message));
  return VK_FALSE;  // never abort the call: the test that caused it fails instead
}

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool layer_available(const char* name) {
  uint32_t count = 0;
  VKDROP_CHECK(vkEnumerateInstanceLayerProperties(&count, nullptr));
  std::vector<VkLayerProperties> layers(count);
  VKDROP_CHECK(vkEnumerateInstanceLayerProperties(&count, layers.data()));
  return std::any_of(layers.begin(), layers.end(), [&](const VkLayerProperties& l) { return std::strcmp(l.layerName, name) == 0; });
}

// An instance with (optionally) the validation layer and a messenger that records its reports.
UniqueInstance create_instance(bool validation) {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "vkdrop";
  app.pEngineName = "vkdrop";
  // The highest version vkdrop's shaders use (most target 1.1; see cmake/EmbedShaders.cmake). Devices that
  // support less still run every shader that targets what they have.
  app.apiVersion = VK_API_VERSION_1_2;

  std::vector<const char*> layers;
  std::vector<const char*> extensions;
  VkDebugUtilsMessengerCreateInfoEXT messenger_info{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
  messenger_info.messageSeverity =
      VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  messenger_info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  messenger_info.pfnUserCallback = on_validation_message;
  if (validation) {
    if (!layer_available(k_validation_layer)) {
      throw DeviceError(
          "Validation was requested (VKDROP_VALIDATION=1) but the Khronos validation layer is not installed. "
          "Install it with `apt-get install vulkan-validationlayers`, or unset VKDROP_VALIDATION.");
    }
    layers.push_back(k_validation_layer);
    extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  }

  VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  info.pApplicationInfo = &app;
  info.enabledLayerCount = static_cast<uint32_t>(layers.size());
  info.ppEnabledLayerNames = layers.data();
  info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  info.ppEnabledExtensionNames = extensions.data();
  // Besides the core checks, synchronization validation: it reports a missing or too-narrow barrier
  // between two commands that touch the same memory, which the Recorder derives rather than writes by hand.
  const VkValidationFeatureEnableEXT enabled_features[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
  VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
  features.enabledValidationFeatureCount = 1;
  features.pEnabledValidationFeatures = enabled_features;
  features.pNext = &messenger_info;  // also report on vkCreateInstance / vkDestroyInstance
  if (validation) {
    extensions.push_back(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
    info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
    info.ppEnabledExtensionNames = extensions.data();
    info.pNext = &features;
  }

  VkInstance raw_instance = VK_NULL_HANDLE;
  VkResult result = vkCreateInstance(&info, nullptr, &raw_instance);
  if (result == VK_ERROR_INCOMPATIBLE_DRIVER || result == VK_ERROR_INITIALIZATION_FAILED) {
    throw DeviceError(fmt::format("Could not create a Vulkan instance ({}): no Vulkan driver was found. {}",
                                  result_name(result), k_install_hint));
  }
  VKDROP_CHECK(result);
  UniqueInstance instance(raw_instance);

  if (validation) {
    auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT"));
    if (create == nullptr) {
      throw DeviceError("The validation layer is present but VK_EXT_debug_utils is not; reinstall vulkan-validationlayers.");
    }
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
    VKDROP_CHECK(create(instance, &messenger_info, nullptr, &messenger));
    instance.own_messenger(messenger);
  }
  return instance;
}

std::vector<VkPhysicalDevice> physical_devices(VkInstance instance) {
  uint32_t count = 0;
  VKDROP_CHECK(vkEnumeratePhysicalDevices(instance, &count, nullptr));
  std::vector<VkPhysicalDevice> devices(count);
  VKDROP_CHECK(vkEnumeratePhysicalDevices(instance, &count, devices.data()));
  devices.resize(count);
  return devices;
}

std::optional<uint32_t> compute_queue_family(VkPhysicalDevice device, uint32_t* timestamp_bits) {
  uint32_t count = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(device, &count, nullptr);
  std::vector<VkQueueFamilyProperties> families(count);
  vkGetPhysicalDeviceQueueFamilyProperties(device, &count, families.data());
  for (uint32_t i = 0; i < count; ++i) {
    if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
      if (timestamp_bits) *timestamp_bits = families[i].timestampValidBits;
      return i;
    }
  }
  return std::nullopt;
}

DeviceInfo describe(VkPhysicalDevice device, uint32_t index) {
  VkPhysicalDeviceSubgroupProperties subgroup{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  subgroup.pNext = &driver;
  VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  props.pNext = &subgroup;
  vkGetPhysicalDeviceProperties2(device, &props);
  const VkPhysicalDeviceProperties& p = props.properties;
  const VkPhysicalDeviceLimits& l = p.limits;

  DeviceInfo info;
  info.index = index;
  info.name = p.deviceName;
  info.type = p.deviceType;
  info.vendor_id = p.vendorID;
  info.device_id = p.deviceID;
  info.driver = driver.driverName[0] ? fmt::format("{} / {}", driver.driverName, driver.driverInfo)
                                     : fmt::format("version {:#x}", p.driverVersion);
  info.driver_version = p.driverVersion;
  info.api_version = p.apiVersion;
  std::copy(std::begin(p.pipelineCacheUUID), std::end(p.pipelineCacheUUID), info.pipeline_cache_uuid.begin());
  VkPhysicalDeviceMemoryProperties memory;
  vkGetPhysicalDeviceMemoryProperties(device, &memory);
  for (uint32_t i = 0; i < memory.memoryHeapCount; ++i) {
    if (memory.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      info.device_local_bytes = std::max<uint64_t>(info.device_local_bytes, memory.memoryHeaps[i].size);
  }
  info.subgroup_size = subgroup.subgroupSize;
  // max_norm.comp also uses subgroupElect, gl_SubgroupID and gl_NumSubgroups: the basic operations.
  const VkSubgroupFeatureFlags arithmetic = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
  const bool compute = (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) != 0;
  info.subgroup_arithmetic = compute && (subgroup.supportedOperations & arithmetic) == arithmetic;
  info.subgroup_shuffle = compute && (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT) != 0;
  info.subgroup_ballot = compute && (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_BALLOT_BIT) != 0;
  VkPhysicalDeviceFeatures features;
  vkGetPhysicalDeviceFeatures(device, &features);
  info.shader_int64 = features.shaderInt64 == VK_TRUE;
  std::copy(std::begin(l.maxComputeWorkGroupSize), std::end(l.maxComputeWorkGroupSize), info.max_workgroup_size.begin());
  std::copy(std::begin(l.maxComputeWorkGroupCount), std::end(l.maxComputeWorkGroupCount), info.max_workgroup_count.begin());
  info.max_workgroup_invocations = l.maxComputeWorkGroupInvocations;
  info.max_shared_memory_bytes = l.maxComputeSharedMemorySize;
  info.max_storage_buffer_range = l.maxStorageBufferRange;
  info.min_storage_buffer_offset_alignment = l.minStorageBufferOffsetAlignment;
  info.min_texel_buffer_offset_alignment = l.minTexelBufferOffsetAlignment;
  info.max_texel_buffer_elements = l.maxTexelBufferElements;
  info.max_push_constants_bytes = l.maxPushConstantsSize;
  uint32_t timestamp_bits = 0;
  compute_queue_family(device, &timestamp_bits);
  info.timestamp_period_ns = timestamp_bits > 0 ? l.timestampPeriod : 0.0f;
  return info;
}

int type_rank(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
  }
}

std::string device_list_text(const std::vector<DeviceInfo>& devices) {
  std::string text;
  for (const DeviceInfo& d : devices)
    text += fmt::format("\n  [{}] {} ({})", d.index, d.name, device_type_name(d.type));
  return text;
}

// Picks by index ("1"), by case-insensitive name substring, or the best type when `wanted` is empty.
uint32_t select_device(const std::vector<DeviceInfo>& devices, const std::string& wanted) {
  if (devices.empty()) {
    throw DeviceError(std::string("The Vulkan loader found no device with a compute queue. ") + k_install_hint);
  }
  if (wanted.empty()) {
    auto best = std::min_element(devices.begin(), devices.end(), [](const DeviceInfo& a, const DeviceInfo& b) {
      return type_rank(a.type) < type_rank(b.type);
    });
    return static_cast<uint32_t>(best - devices.begin());
  }
  if (std::all_of(wanted.begin(), wanted.end(), [](unsigned char c) { return std::isdigit(c); })) {
    // Compared as text: an index too long for any integer simply matches no device.
    for (size_t i = 0; i < devices.size(); ++i)
      if (std::to_string(devices[i].index) == wanted.substr(std::min(wanted.find_first_not_of('0'), wanted.size() - 1)))
        return static_cast<uint32_t>(i);
    throw DeviceError(fmt::format("No Vulkan device with index {} (VKDROP_DEVICE or --device). Devices:{}",
                                  wanted, device_list_text(devices)));
  }
  for (size_t i = 0; i < devices.size(); ++i)
    if (lowercase(devices[i].name).find(lowercase(wanted)) != std::string::npos) return static_cast<uint32_t>(i);
  throw DeviceError(fmt::format("No Vulkan device whose name contains \"{}\" (VKDROP_DEVICE or --device). Devices:{}",
                                wanted, device_list_text(devices)));
}

std::filesystem::path default_cache_dir() {
  if (std::string dir = env("VKDROP_CACHE_DIR"); !dir.empty()) return dir;
  if (std::string dir = env("XDG_CACHE_HOME"); !dir.empty()) return std::filesystem::path(dir) / "vkdrop";
  if (std::string home = env("HOME"); !home.empty()) return std::filesystem::path(home) / ".cache" / "vkdrop";
  return std::filesystem::temp_directory_path() / "vkdrop-cache";
}

// The pipeline cache saves compile time and nothing else, and the user names only its directory, never this
// file: a file there that cannot be read (a directory, no permission, an I/O error) is a warning and a run that
// compiles its pipelines, as a cache that cannot be saved is. No file is the first run: silent.
std::vector<char> read_pipeline_cache(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return {};
  try {
    if (!std::filesystem::is_regular_file(path)) throw std::runtime_error("not a regular file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(std::strerror(errno));
    return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::exception& e) {  // a read error: libstdc++'s filebuf throws std::ios_base::failure
    std::cerr << fmt::format("vkdrop: warning: ignoring the pipeline cache {} ({}); pipelines will be compiled. "
                             "Remove it, or set VKDROP_CACHE_DIR to another directory.\n",
                             path.string(), e.what());
    return {};
  }
}

}  // namespace

const char* device_type_name(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
  }
}

std::string vendor_name(uint32_t vendor_id) {
  switch (vendor_id) {
    case 0x10DE: return "NVIDIA";
    case 0x1002: return "AMD";
    case 0x8086: return "Intel";
    case 0x13B5: return "ARM";
    case 0x5143: return "Qualcomm";
    case 0x106B: return "Apple";
    case 0x10005: return "Mesa";
    default: return fmt::format("{:#06x}", vendor_id);
  }
}

std::vector<std::string> take_validation_messages() {
  std::lock_guard lock(g_validation_mutex);
  return std::exchange(g_validation_messages, {});
}

std::vector<DeviceInfo> Context::list_devices() {
  const UniqueInstance instance = create_instance(false);
  std::vector<DeviceInfo> devices;
  auto all = physical_devices(instance);
  for (uint32_t i = 0; i < all.size(); ++i)
    if (compute_queue_family(all[i], nullptr)) devices.push_back(describe(all[i], i));
  return devices;
}


Context::Context(ContextOptions options) {
  validation_ = options.validation.value_or(env("VKDROP_VALIDATION") == "1");
  // If anything below throws, the owners made so far destroy what they own, in reverse order.
  instance_ = create_instance(validation_);
  {
    auto all = physical_devices(instance_);
    std::vector<DeviceInfo> devices;
    std::vector<VkPhysicalDevice> handles;
    for (uint32_t i = 0; i < all.size(); ++i) {
      if (!compute_queue_family(all[i], nullptr)) continue;
      devices.push_back(describe(all[i], i));
      handles.push_back(all[i]);
    }
    std::string wanted = options.device.empty() ? env("VKDROP_DEVICE") : options.device;
    uint32_t chosen = select_device(devices, wanted);
    info_ = devices[chosen];
    if (!options.shader_int64.value_or(env("VKDROP_SHADER_INT64") != "0")) info_.shader_int64 = false;
    physical_device_ = handles[chosen];
    queue_family_ = *compute_queue_family(physical_device_, nullptr);
    vkGetPhysicalDeviceMemoryProperties(physical_device_, &memory_);

    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue_info{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    queue_info.queueFamilyIndex = queue_family_;
    queue_info.queueCount = 1;
    queue_info.pQueuePriorities = &priority;
    // Optional features, enabled where the device has them (DeviceInfo says which): shaders that need one are
    // only chosen on such devices.
    VkPhysicalDeviceFeatures enabled{};
    enabled.shaderInt64 = info_.shader_int64 ? VK_TRUE : VK_FALSE;
    VkDeviceCreateInfo device_info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    device_info.queueCreateInfoCount = 1;
    device_info.pQueueCreateInfos = &queue_info;
    device_info.pEnabledFeatures = &enabled;
    VkDevice device = VK_NULL_HANDLE;
    VKDROP_CHECK(vkCreateDevice(physical_device_, &device_info, nullptr, &device));
    device_ = UniqueDevice(device);
    vkGetDeviceQueue(device_, queue_family_, 0, &queue_);

    VkCommandPoolCreateInfo pool_info{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pool_info.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pool_info.queueFamilyIndex = queue_family_;
    VkCommandPool pool;
    VKDROP_CHECK(vkCreateCommandPool(device_, &pool_info, nullptr, &pool));
    command_pool_ = UniqueCommandPool(device_, pool);

    // The pipeline cache is keyed by the device's cache UUID and driver version: a file from another
    // device or driver is never offered to this one.
    std::string uuid;
    for (uint8_t b : info_.pipeline_cache_uuid) uuid += fmt::format("{:02x}", b);
    std::filesystem::path dir = options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
    pipeline_cache_path_ = dir / fmt::format("pipelines-{}-{:x}.bin", uuid, info_.driver_version);
    pipeline_cache_ = load_pipeline_cache(device_, pipeline_cache_path_);
  }
}

UniquePipelineCache load_pipeline_cache(VkDevice device, const std::filesystem::path& path) {
  std::vector<char> initial = read_pipeline_cache(path);
  VkPipelineCacheCreateInfo cache_info{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  cache_info.initialDataSize = initial.size();
  cache_info.pInitialData = initial.empty() ? nullptr : initial.data();
  VkPipelineCache cache;
  VKDROP_CHECK(vkCreatePipelineCache(device, &cache_info, nullptr, &cache));
  return UniquePipelineCache(device, cache);
}

// The owners then destroy kernels, staging buffer, pipeline cache, command pool, device and instance, in
// that order (the reverse of their declaration).
Context::~Context() {
  save_pipeline_cache();
  if (device_) vkDeviceWaitIdle(device_);
}

void Context::save_pipeline_cache() const {
  // Write beside, then rename: a crash never leaves a torn cache file for the next run to read. The name is
  // this process's and this context's, so processes sharing the directory (ctest -j) never write one file.
  std::filesystem::path tmp = pipeline_cache_path_;
  tmp += fmt::format(".tmp-{}-{}", ::getpid(), static_cast<const void*>(this));
  try {
    size_t size = 0;
    VKDROP_CHECK(vkGetPipelineCacheData(device_, pipeline_cache_, &size, nullptr));
    std::vector<char> data(size);
    VKDROP_CHECK(vkGetPipelineCacheData(device_, pipeline_cache_, &size, data.data()));
    std::filesystem::create_directories(pipeline_cache_path_.parent_path());
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(data.data(), static_cast<std::streamsize>(size));
      if (!out) throw std::runtime_error("write failed");
    }
    std::filesystem::rename(tmp, pipeline_cache_path_);
  } catch (const std::exception& e) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    std::cerr << fmt::format("vkdrop: warning: could not save the pipeline cache to {} ({}); pipelines will be "
                             "compiled again next run. Set VKDROP_CACHE_DIR to a writable directory.\n",
                             pipeline_cache_path_.string(), e.what());
  }
}

uint32_t Context::device_memory_type(uint32_t allowed_types) const {
  for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i)
    if ((allowed_types & (1u << i)) && (memory_.memoryTypes[i].propertyFlags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT))
      return i;
  for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i)
    if (allowed_types & (1u << i)) return i;
  throw DeviceError(fmt::format("Device {} offers no memory type for storage buffers.", info_.name));
}

uint32_t Context::staging_memory_type(uint32_t allowed_types, bool readback) const {
  const VkMemoryPropertyFlags need = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  if (readback) {
    for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i) {
      VkMemoryPropertyFlags f = memory_.memoryTypes[i].propertyFlags;
      if ((allowed_types & (1u << i)) && (f & need) == need && (f & VK_MEMORY_PROPERTY_HOST_CACHED_BIT)) return i;
    }
  }
  for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i)
    if ((allowed_types & (1u << i)) && (memory_.memoryTypes[i].propertyFlags & need) == need) return i;
  throw DeviceError(fmt::format("Device {} offers no host-visible coherent memory for staging.", info_.name));
}

const Kernel& Context::kernel(const std::string& shader, std::span<const uint32_t> specialization) {
  std::string key = shader;
  for (uint32_t v : specialization) key += fmt::format(":{}", v);
  std::lock_guard lock(kernels_mutex_);
  auto it = kernels_.find(key);
  if (it == kernels_.end())
    it = kernels_.emplace(key, std::make_unique<Kernel>(*this, shader, specialization)).first;
  return *it->second;
}

const BufferSlice& Context::placeholder() {
  std::lock_guard lock(kernels_mutex_);  // ops may record from several threads, as they build kernels
  if (!placeholder_) {
    placeholder_arena_ = std::make_unique<Arena>(*this, 256);
    placeholder_ = std::make_unique<BufferSlice>(placeholder_arena_->allocate(16, "placeholder"));
  }
  return *placeholder_;
}

void Context::submit_and_wait(std::span<const VkCommandBuffer> commands) {
  VkFenceCreateInfo fence_info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VkFence raw_fence;
  VKDROP_CHECK(vkCreateFence(device_, &fence_info, nullptr, &raw_fence));
  UniqueFence fence(device_, raw_fence);
  VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  submit.commandBufferCount = static_cast<uint32_t>(commands.size());
  submit.pCommandBuffers = commands.data();
  VkResult result = injected_fault(FaultPoint::submit);
  if (result == VK_SUCCESS) result = vkQueueSubmit(queue_, 1, &submit, fence);
  check(result, "vkQueueSubmit");
  wait_for_fence(device_, raw_fence);
}

void Context::upload(const BufferSlice& dst, const void* src, uint64_t bytes) {
  transfer(dst, const_cast<void*>(src), bytes, true);
}

void Context::download(void* dst, const BufferSlice& src, uint64_t bytes) { transfer(src, dst, bytes, false); }

void Context::transfer(const BufferSlice& device_side, void* host, uint64_t bytes, bool to_device) {
  if (bytes == 0) return;
  if (bytes > device_side.size) {
    throw ArgumentError(fmt::format("Transfer of {} bytes into a {}-byte buffer slice.", bytes, device_side.size));
  }
  constexpr uint64_t chunk_max = 64ull << 20;
  const uint64_t want = std::min(bytes, chunk_max);
  if (!staging_ || staging_->size() < want) {  // grown on demand, up to chunk_max
    staging_.reset();
    staging_ = std::make_unique<HostBuffer>(*this, want);
  }

  VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  alloc.commandPool = command_pool_;
  alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  alloc.commandBufferCount = 1;
  VkCommandBuffer raw_cmd;
  VKDROP_CHECK(vkAllocateCommandBuffers(device_, &alloc, &raw_cmd));
  const UniqueCommandBuffer cmd(device_, command_pool_, raw_cmd);

  auto* host_bytes = static_cast<char*>(host);
  for (uint64_t done = 0; done < bytes; done += want) {
    const uint64_t n = std::min(want, bytes - done);
    if (to_device) std::memcpy(staging_->data(), host_bytes + done, n);
    VKDROP_CHECK(vkResetCommandBuffer(cmd, 0));
    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    VKDROP_CHECK(vkBeginCommandBuffer(cmd, &begin));
    // Earlier work on the queue (dispatches, other copies) may touch this range: order the copy after it.
    VkMemoryBarrier before{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    before.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    before.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &before, 0,
                         nullptr, 0, nullptr);
    VkBufferCopy region{};
    region.size = n;
    if (to_device) {
      region.dstOffset = device_side.offset + done;
      vkCmdCopyBuffer(cmd, staging_->slice().buffer, device_side.buffer, 1, &region);
    } else {
      region.srcOffset = device_side.offset + done;
      vkCmdCopyBuffer(cmd, device_side.buffer, staging_->slice().buffer, 1, &region);
    }
    // Make the copy visible to later dispatches (upload) or to the host (download).
    VkMemoryBarrier after{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    after.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    after.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                          VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                         0, 1, &after, 0, nullptr, 0, nullptr);
    VKDROP_CHECK(vkEndCommandBuffer(cmd));
    submit_and_wait(std::span<const VkCommandBuffer>(cmd.ptr(), 1));
    if (!to_device) std::memcpy(host_bytes + done, staging_->data(), n);
  }
}

}  // namespace vkdrop

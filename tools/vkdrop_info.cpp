// vkdrop-info: the Vulkan devices on this machine and the limits that matter for compute.
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

#include <cstdio>

int main() {
  try {
    auto devices = vkdrop::Context::list_devices();
    vkdrop::Context chosen;  // what vkdrop would pick (VKDROP_DEVICE, else the best type)
    for (const vkdrop::DeviceInfo& d : devices) {
      const bool is_chosen = d.index == chosen.info().index;
      fmt::print("[{}] {}{}\n", d.index, d.name, is_chosen ? "   <- selected (VKDROP_DEVICE to change)" : "");
      fmt::print("    type                       {}\n", vkdrop::device_type_name(d.type));
      fmt::print("    vendor                     {} (device id {:#06x})\n", vkdrop::vendor_name(d.vendor_id), d.device_id);
      fmt::print("    driver                     {}\n", d.driver);
      fmt::print("    Vulkan API                 {}.{}.{}\n", VK_API_VERSION_MAJOR(d.api_version),
                 VK_API_VERSION_MINOR(d.api_version), VK_API_VERSION_PATCH(d.api_version));
      fmt::print("    device-local memory        {:.1f} GiB\n", static_cast<double>(d.device_local_bytes) / (1ull << 30));
      fmt::print("    subgroup size              {}{}\n", d.subgroup_size,
                 d.subgroup_arithmetic ? " (arithmetic in compute)" : "");
      fmt::print("    max workgroup size         {} x {} x {} ({} invocations)\n", d.max_workgroup_size[0],
                 d.max_workgroup_size[1], d.max_workgroup_size[2], d.max_workgroup_invocations);
      fmt::print("    max workgroup count        {} x {} x {}\n", d.max_workgroup_count[0], d.max_workgroup_count[1],
                 d.max_workgroup_count[2]);
      fmt::print("    shared memory / workgroup  {} KiB\n", d.max_shared_memory_bytes / 1024);
      fmt::print("    maxStorageBufferRange      {} MiB\n", d.max_storage_buffer_range >> 20);
      fmt::print("    storage offset alignment   {} bytes\n", d.min_storage_buffer_offset_alignment);
      fmt::print("    push constants             {} bytes\n", d.max_push_constants_bytes);
      if (d.timestamp_period_ns > 0)
        fmt::print("    timestamp period           {} ns\n", d.timestamp_period_ns);
      else
        fmt::print("    timestamps                 not supported on the compute queue\n");
    }
    fmt::print("pipeline cache: {}\n", chosen.pipeline_cache_path().string());
    return 0;
  } catch (const vkdrop::Error& e) {
    std::fprintf(stderr, "vkdrop-info: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {  // not ours (the file system, the C++ library): still a message, not an abort
    std::fprintf(stderr, "vkdrop-info: unexpected error: %s\n", e.what());
    return 1;
  }
}

#pragma once
// How ops size their dispatches. Element-wise kernels use a grid-stride loop, so any element count fits
// in the device's workgroup-count limit; workgroup sizes are specialization constants chosen here from the
// device, in one place.

#include "runtime/context.hpp"
#include "runtime/error.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <string>

namespace vkdrop::ops {

// Workgroup size of element-wise kernels: a CPU device (lavapipe) runs a workgroup as a loop over
// subgroup-wide SIMD chunks, so small groups spread better over its few cores; a GPU wants 256.
inline uint32_t elementwise_workgroup(const DeviceInfo& device) { return device.is_cpu() ? 64 : 256; }

// Workgroups for `n` elements at `per_group` elements per workgroup, capped at the device limit (the
// kernel's grid-stride loop covers the rest).
inline std::array<uint32_t, 3> groups_1d(int64_t n, int64_t per_group, const DeviceInfo& device) {
  const int64_t groups = (n + per_group - 1) / per_group;
  return {static_cast<uint32_t>(std::min<int64_t>(groups, device.max_workgroup_count[0])), 1, 1};
}

// Workgroups for an element-wise kernel over `n` elements. lavapipe pays a fixed cost per workgroup, so
// there each invocation takes 16 elements through the grid-stride loop (relu forward of 1M elements:
// 4.1 ms instead of 8.3 ms with one element per invocation); a GPU wants every element in flight at once.
inline std::array<uint32_t, 3> elementwise_groups(int64_t n, const DeviceInfo& device) {
  return groups_1d(n, int64_t{elementwise_workgroup(device)} * (device.is_cpu() ? 16 : 1), device);
}

// Element counts go to shaders as uint; larger tensors cannot be bound anyway (maxStorageBufferRange).
inline uint32_t to_u32(int64_t n, const std::string& what) {
  if (n < 0 || n > std::numeric_limits<uint32_t>::max())
    throw ArgumentError(what + ": element count does not fit in 32 bits");
  return static_cast<uint32_t>(n);
}

}  // namespace vkdrop::ops

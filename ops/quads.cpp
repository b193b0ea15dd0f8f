#include <vkdrop/ops/quads.hpp>

#include <vkdrop/ops/tuning.hpp>

namespace vkdrop::ops {

BufferSlice quad_binding(Context& ctx, const BufferSlice& slice) {
  return slice.size >= 4 * sizeof(float) ? slice : ctx.placeholder();
}

std::array<uint32_t, 3> quad_set_groups(int64_t n, const DeviceInfo& device) {
  return loop_free_groups((quads_of(n) + k_quad_set - 1) / k_quad_set, device);
}

std::array<uint32_t, 3> quad_set_flags(int64_t n, const DeviceInfo& device) {
  return {n % 4 != 0 ? 1u : 0u, device.is_cpu() ? 1u : 0u, (n / 4) % 2 != 0 ? 1u : 0u};
}

std::vector<uint32_t> quad_set_constants(int64_t n, const DeviceInfo& device) {
  const auto [partial, contiguous, lone_quad] = quad_set_flags(n, device);
  return {loop_free_workgroup(device), partial, contiguous, lone_quad};
}

std::string quad_set_kernel(const std::string& name, const DeviceInfo& device) {
  return u64_stores(device) ? name + "_u64" : name;
}

}  // namespace vkdrop::ops

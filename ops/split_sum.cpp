#include <vkdrop/ops/split_sum.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/runtime/kernel.hpp>

#include <vector>

namespace vkdrop::ops {

uint64_t split_slice_stride(int64_t elements) { return (static_cast<uint64_t>(elements) + 3) / 4 * 4; }

void sum_slices(Recorder& rec, const Tensor& out, const BufferSlice& partials, uint32_t slices, uint64_t slice_stride,
                const Tensor* bias, const std::string& label) {
  // Push constants of split_sum.comp.
  struct Params {
    uint32_t count, columns, slices, slice_stride, has_bias;
  };
  const int64_t columns = out.shape.empty() ? 1 : out.shape.back();
  const Params p{to_u32(out.numel(), "split sum: out"), to_u32(columns, "split sum: columns"), slices,
                 to_u32(static_cast<int64_t>(slice_stride), "split sum: slice stride"), bias != nullptr ? 1u : 0u};
  const DeviceInfo& device = rec.context().info();
  const Kernel& kernel = rec.context().kernel("split_sum", std::vector<uint32_t>{elementwise_workgroup(device)});
  rec.dispatch(kernel, {partials, bias != nullptr ? bias->slice : partials, out.slice}, p,
               elementwise_groups(out.numel(), device), label);
}

}  // namespace vkdrop::ops

#pragma once
// Average pooling and its gradient, as torch.nn.functional.avg_pool2d (ceil_mode=False,
// count_include_pad=True, no divisor_override). CPU reference: reference/avg_pool2d.hpp. Shader: avg_pool2d.comp.

#include <vkdrop/ops/pool2d.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

namespace vkdrop::ops {

// y (N, C, OH, OW) f32 = the sum of each window of x (N, C, H, W) f32 (or both without N) / (kernel_h·kernel_w),
// padding counting as zeros. (OH, OW) as ops::pool2d_output_shape; y and x must not overlap.
void avg_pool2d_forward(Recorder& rec, const Tensor& y, const Tensor& x, const Pool2dWindow& window);
// dx (like x) = the sum of dy / (kernel_h·kernel_w) over the windows that cover each element (0 if none): a
// gather in a fixed order, deterministic. dy: (like y). dx and dy must not overlap.
void avg_pool2d_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Pool2dWindow& window);

}  // namespace vkdrop::ops

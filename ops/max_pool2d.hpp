#pragma once
// Max pooling and its gradient, as torch.nn.functional.max_pool2d (dilation 1, ceil_mode=False).
// CPU reference: reference/max_pool2d.hpp. Shaders: max_pool2d_forward.comp, max_pool2d_backward.comp.

#include <vkdrop/ops/pool2d.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

namespace vkdrop::ops {

// y (N, C, OH, OW) f32 = the maximum of each window of x (N, C, H, W) f32 (or all three without N), padding
// acting as −inf; argmax (like y) u32 = the plane-local index ih·W + iw of the element taken, the first
// maximum in row-major window order (a NaN wins). (OH, OW) as ops::pool2d_output_shape; no two may overlap.
void max_pool2d_forward(Recorder& rec, const Tensor& y, const Tensor& argmax, const Tensor& x,
                        const Pool2dWindow& window);
// dx (like x) = for each element, the sum of dy over the outputs whose argmax it is (0 if none): a gather in
// a fixed order, deterministic. dy and argmax: (like y), argmax from max_pool2d_forward with this window.
void max_pool2d_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& argmax,
                         const Pool2dWindow& window);

}  // namespace vkdrop::ops

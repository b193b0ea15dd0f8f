#pragma once
// Tanh and its gradient. CPU reference: reference/tanh.hpp. Shader: tanh.comp.

#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

namespace vkdrop::ops {

// y = tanh(x), as torch.tanh. y and x: f32 of the same shape (any); y may be x (in place).
void tanh_forward(Recorder& rec, const Tensor& y, const Tensor& x);
// dx = dy · (1 - y²), where y is tanh_forward's output. All f32 of one shape; dx may be dy or y (in place).
void tanh_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& y);

}  // namespace vkdrop::ops

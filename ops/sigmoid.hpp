#pragma once
// Sigmoid and its gradient. CPU reference: reference/sigmoid.hpp. Shader: sigmoid.comp.

#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

namespace vkdrop::ops {

// y = 1 / (1 + e^-x), as torch.sigmoid. y and x: f32 of the same shape (any); y may be x (in place).
void sigmoid_forward(Recorder& rec, const Tensor& y, const Tensor& x);
// dx = dy · y · (1 - y), where y is sigmoid_forward's output. All f32 of one shape; dx may be dy or y (in place).
void sigmoid_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& y);

}  // namespace vkdrop::ops

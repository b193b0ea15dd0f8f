#pragma once
// LeakyReLU and its gradient. CPU reference: reference/leaky_relu.hpp. Shader: leaky_relu.comp.
// negative_slope is a float because the GPU computes in float; it must be finite.

#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

namespace vkdrop::ops {

// y = x > 0 ? x : negative_slope · x, as torch.nn.functional.leaky_relu. y and x: f32 of the same shape (any);
// y may be x (in place).
void leaky_relu_forward(Recorder& rec, const Tensor& y, const Tensor& x, float negative_slope);
// dx = x > 0 ? dy : negative_slope · dy, where x is the forward's input (LeakyReLU'(0) = negative_slope, as
// PyTorch). All f32 of one shape; dx may be dy or x (in place).
void leaky_relu_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& x, float negative_slope);

}  // namespace vkdrop::ops

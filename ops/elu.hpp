#pragma once
// ELU and its gradient. CPU reference: reference/elu.hpp. Shader: elu.comp.
// alpha is a float because the GPU computes in float; it must be finite.

#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

namespace vkdrop::ops {

// y = x <= 0 ? alpha · (e^x - 1) : x, as torch.nn.functional.elu. y and x: f32 of the same shape (any);
// y may be x (in place).
void elu_forward(Recorder& rec, const Tensor& y, const Tensor& x, float alpha);
// dx = x <= 0 ? dy · alpha · e^x : dy, where x is the forward's input (ELU'(0) = alpha, as PyTorch). All f32 of
// one shape; dx may be dy or x (in place).
void elu_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& x, float alpha);

}  // namespace vkdrop::ops

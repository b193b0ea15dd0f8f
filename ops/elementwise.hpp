#pragma once
// Element-wise ops and their backward passes: ReLU, bias gradient.
// CPU references: reference/relu.hpp, reference/linear.hpp (db). Shaders: relu_forward.comp,
// relu_backward.comp, bias_backward.comp.

#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

namespace vkdrop::ops {

// y = max(x, 0). y and x have the same shape (any); y may be x (in place).
void relu_forward(Recorder& rec, const Tensor& y, const Tensor& x);
// dx = dy · (y > 0), where y is relu's output (ReLU'(0) = 0, as PyTorch). dx may be dy (in place).
void relu_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& y);
// db (N) = Σ over rows of dy (M, N).
void bias_backward(Recorder& rec, const Tensor& db, const Tensor& dy);

}  // namespace vkdrop::ops

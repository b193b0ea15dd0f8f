#pragma once
// Element-wise ops and their backward passes: ReLU, bias gradient.
// CPU references: reference/relu.hpp, reference/linear.hpp (db). Shaders: relu_forward.comp,
// relu_backward.comp, bias_backward.comp.

#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <cstdint>

namespace vkdrop::ops {

// y = max(x, 0). y and x have the same shape (any); y may be x (in place).
void relu_forward(Recorder& rec, const Tensor& y, const Tensor& x);
// dx = dy · (y > 0), where y is relu's output (ReLU'(0) = 0, as PyTorch). dx may be dy (in place).
// scale: a dropout folded into the ReLU (relu_dropout_backward): dx = dy · scale where y > 0.
void relu_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& y, float scale = 1.0f,
                   const char* label = "relu backward");
// db (N) = Σ over rows of dy (M, N). partials: scratch for splitting the rows over workgroups when the
// columns alone would leave the device idle (a conv's bias: 32 columns over 100 352 rows), with at least
// bias_backward_partials_elements(M, N) f32 elements, or nullptr (never split); the slices are added in order,
// so the result is deterministic and equals the unsplit sum up to rounding.
void bias_backward(Recorder& rec, const Tensor& db, const Tensor& dy, const Tensor* partials = nullptr);
// The most slices bias_backward splits the rows of an (M, N) gradient into, from the shape alone (1: never):
// at least 1024 rows a slice, at most 64 slices, about 2 MiB of partial sums at most.
uint32_t bias_backward_max_split(int64_t rows, int64_t cols);
// Elements of `partials` bias_backward may use for an (M, N) gradient (0 when it never splits).
int64_t bias_backward_partials_elements(int64_t rows, int64_t cols);

}  // namespace vkdrop::ops

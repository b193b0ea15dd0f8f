#pragma once
// Batch normalization (torch.nn.functional.batch_norm with weight, bias and running statistics) and its
// gradient. CPU reference: reference/batch_norm.hpp. Shaders: batch_norm_statistics.comp then
// batch_norm_normalize.comp (training; eval is normalize alone, from the running statistics),
// batch_norm_backward_sums.comp then batch_norm_backward_dx.comp.
//
// x is (N, C), (N, C, L) or (N, C, H, W), f32: C channels, each of M = N·L values (L = 1, L or H·W). Every
// per-channel tensor (weight, bias, running_mean, running_var, save_mean, save_invstd and the gradients) is
// (C) f32; num_batches_tracked is () f32, one value (PyTorch keeps it as a 0-d int64). No two arguments may
// share memory. eps is finite and >= 0; momentum in [0, 1]. The reductions are deterministic.
//
// relu: a ReLU applied to y in the same pass (a ReLU layer after the BatchNorm, fused by the Model), y =
// max(bn(x), 0) with relu_forward's select; backward then takes dy as the gradient of that y and needs y
// (relu_output) to mask it, as relu_backward would. The bits are those of the separate passes.

#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

namespace vkdrop::ops {

// Training: normalise each channel with its batch mean and biased variance, y = (x − mean) / sqrt(var + eps) ·
// weight + bias; keep save_mean = mean and save_invstd = 1 / sqrt(var + eps) for backward; move running_mean
// and running_var towards the mean and the unbiased variance by `momentum`; add 1 to num_batches_tracked.
// ArgumentError when a channel has a single value (M = 1), as PyTorch; nothing is recorded when M = 0.
void batch_norm_forward_training(Recorder& rec, const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd,
                                 const Tensor& running_mean, const Tensor& running_var,
                                 const Tensor& num_batches_tracked, const Tensor& x, const Tensor& weight,
                                 const Tensor& bias, float eps, float momentum, bool relu = false);
// Eval: y = (x − running_mean) / sqrt(running_var + eps) · weight + bias, element-wise.
void batch_norm_forward_eval(Recorder& rec, const Tensor& y, const Tensor& x, const Tensor& running_mean,
                             const Tensor& running_var, const Tensor& weight, const Tensor& bias, float eps,
                             bool relu = false);
// The gradient of the training forward for dy (like x), from its input x and its save_mean and save_invstd:
// dweight = Σ dy·x̂ and dbias = Σ dy per channel, and dx (like x), which may be a tensor without elements
// (shape (0)) when dL/dx is not wanted. All written (=). relu_output: the y of a forward with relu (dy is then
// taken where y > 0 only), or nullptr.
void batch_norm_backward(Recorder& rec, const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                         const Tensor& x, const Tensor& weight, const Tensor& save_mean, const Tensor& save_invstd,
                         const Tensor* relu_output = nullptr);

}  // namespace vkdrop::ops

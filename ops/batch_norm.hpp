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
// An epilogue (BatchNormEpilogue) applies a ReLU, or a ReLU and then channel dropout, to y in the same pass
// (the layers after a BatchNorm, fused by the Model): y = max(bn(x), 0) with relu_forward's select, then
// dropout2d_forward's. Backward then takes dy as the gradient of that y and needs y (`output`) to find where
// it flows: where y > 0, times the dropout scale. The bits are those of the separate passes.

#include <vkdrop/ops/dropout.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <optional>

namespace vkdrop::ops {

struct BatchNormEpilogue {
  bool relu = false;
  // Dropout2d after the ReLU (needs relu): its configuration, whether the pass draws masks (training, Monte
  // Carlo) or only scales (eval), and the step counter the masks are drawn for (see ops/dropout.hpp).
  std::optional<DropoutConfig> dropout2d;
  bool draw_masks = true;
  const Tensor* step = nullptr;
};

// Training: normalise each channel with its batch mean and biased variance, y = (x − mean) / sqrt(var + eps) ·
// weight + bias; keep save_mean = mean and save_invstd = 1 / sqrt(var + eps) for backward; move running_mean
// and running_var towards the mean and the unbiased variance by `momentum`; add 1 to num_batches_tracked.
// ArgumentError when a channel has a single value (M = 1), as PyTorch; nothing is recorded when M = 0.
void batch_norm_forward_training(Recorder& rec, const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd,
                                 const Tensor& running_mean, const Tensor& running_var,
                                 const Tensor& num_batches_tracked, const Tensor& x, const Tensor& weight,
                                 const Tensor& bias, float eps, float momentum,
                                 const BatchNormEpilogue& epilogue = {});
// Eval: y = (x − running_mean) / sqrt(running_var + eps) · weight + bias, element-wise.
void batch_norm_forward_eval(Recorder& rec, const Tensor& y, const Tensor& x, const Tensor& running_mean,
                             const Tensor& running_var, const Tensor& weight, const Tensor& bias, float eps,
                             const BatchNormEpilogue& epilogue = {});
// The gradient of the training forward for dy (like x), from its input x and its save_mean and save_invstd:
// dweight = Σ dy·x̂ and dbias = Σ dy per channel, and dx (like x), which may be a tensor without elements
// (shape (0)) when dL/dx is not wanted. All written (=). With the forward's epilogue, `output` is its y.
void batch_norm_backward(Recorder& rec, const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                         const Tensor& x, const Tensor& weight, const Tensor& save_mean, const Tensor& save_invstd,
                         const BatchNormEpilogue& epilogue = {}, const Tensor* output = nullptr);

}  // namespace vkdrop::ops

#pragma once
// Per-element dropout and per-channel dropout (Dropout2d / SpatialDropout), forward and backward.
// The mask is never stored: it is regenerated from (seed, step, layer, element) by Philox4x32-10
// (reference/dropout_mask.hpp documents the counter/key layout; shaders/dropout_mask.glsl is its twin).
// CPU references: reference/dropout.hpp, reference/dropout2d.hpp.

#include <vkdrop/reference/dropout_scaling.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <cstdint>

namespace vkdrop::ops {

struct DropoutConfig {
  double p = 0.5;                                    // probability to DROP, in [0, 1]
  DropoutScaling scaling = DropoutScaling::Inverted;  // PyTorch's (inverted) or the paper's (vanilla)
  uint64_t seed = 0;
  uint32_t layer = 0;                                 // distinct per dropout layer in a model
};

// `step` is a u32 tensor of shape (2,): the 64-bit step counter (low word, high word) in device memory,
// so a recorded step is replayed with a new mask without re-recording. In eval mode (training = false)
// no mask is drawn: inverted → y = x, vanilla → y = x·(1-p).
// Throws ArgumentError for p outside [0, 1] or NaN, ShapeError for mismatched shapes.
void dropout_forward(Recorder& rec, const Tensor& y, const Tensor& x, const DropoutConfig& config, bool training,
                     const Tensor& step);
// dropout_forward through a chosen kernel, for tests and benchmarks: draws_at_once = 1 runs dropout.comp (what a
// GPU runs: one quad per invocation), 4 runs dropout_interleaved.comp (what a CPU device runs: four quads per
// iteration, their Philox rounds interleaved); the same bits either way. Eval mode runs the kernel too (no
// mask drawn), where dropout_forward copies or does nothing. Throws ArgumentError for another draws_at_once.
void dropout_forward(Recorder& rec, const Tensor& y, const Tensor& x, const DropoutConfig& config, bool training,
                     const Tensor& step, uint32_t draws_at_once);
// dx = dy · m · scale with the mask of the same (seed, step, layer). dx may be dy.
void dropout_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const DropoutConfig& config,
                      const Tensor& step);

// x: (N, C, H, W) or (N, C, L): one draw per (n, c), element index n*C + c, shared by the whole channel.
void dropout2d_forward(Recorder& rec, const Tensor& y, const Tensor& x, const DropoutConfig& config, bool training,
                       const Tensor& step);
void dropout2d_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const DropoutConfig& config,
                        const Tensor& step);
// dropout2d_forward in training through a chosen kernel, for tests and benchmarks: loop_free = false runs
// dropout2d.comp (what a GPU runs), true dropout2d_sets.comp (what a CPU device runs where each channel is whole
// quads, S % 4 == 0; ArgumentError otherwise); the same bits either way.
void dropout2d_forward(Recorder& rec, const Tensor& y, const Tensor& x, const DropoutConfig& config,
                       const Tensor& step, bool loop_free);

// A ReLU with a Dropout after it, in one pass each way (the Model folds them; layers/layer.hpp, Epilogue):
// y = dropout(relu(x)), the bits of relu_forward then dropout_forward. Backward needs no mask: after the ReLU a
// kept value > 0 is exactly where the gradient flows, so dx = y > 0 ? dy · scale : 0 from this y, the bits of
// dropout_backward then relu_backward.
void relu_dropout_forward(Recorder& rec, const Tensor& y, const Tensor& x, const DropoutConfig& config, bool training,
                          const Tensor& step);
void relu_dropout_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& y,
                           const DropoutConfig& config);

}  // namespace vkdrop::ops

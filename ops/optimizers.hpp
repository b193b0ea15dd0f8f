#pragma once
// Optimizer steps on the GPU, PyTorch semantics (torch.optim.SGD, Adam, AdamW), and the max-norm
// constraint of Srivastava et al. 2014. All state stays on the device. The learning rate and momentum are
// read from a device tensor `hyper` each step, so a schedule advances them without re-recording.
// CPU reference: reference/optimizers.hpp. Shaders: sgd_step.comp, adam_step.comp, max_norm.comp.

#include "runtime/recorder.hpp"
#include "runtime/tensor.hpp"

namespace vkdrop::ops {

// hyper: (4) f32 = [lr, momentum, unused, unused] (written by ops::schedule or uploaded).
// w, g, v: same shape (any; typically all parameters of a model as one flat slice).
struct SgdConfig {
  float weight_decay = 0;
  bool nesterov = false;  // requires momentum > 0 at every step
};
void sgd_step(Recorder& rec, const Tensor& w, const Tensor& g, const Tensor& v, const Tensor& hyper,
              const SgdConfig& config);

// step: (2) u32, the 64-bit count of steps already taken (t - 1; the shader uses t = step + 1 for the bias
// correction). m, v: same shape as w.
struct AdamConfig {
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weight_decay = 0;
  bool decoupled = false;  // AdamW
};
void adam_step(Recorder& rec, const Tensor& w, const Tensor& g, const Tensor& m, const Tensor& v,
               const Tensor& hyper, const Tensor& step, const AdamConfig& config);

// w: (out, in); each row (one unit's incoming weights) with L2 norm > c is scaled to norm c.
void max_norm(Recorder& rec, const Tensor& w, float c);

}  // namespace vkdrop::ops

#pragma once
// Optimizer steps on the GPU, PyTorch semantics (torch.optim.SGD, Adam, AdamW), and the max-norm
// constraint of Srivastava et al. 2014. All state stays on the device. The learning rate and momentum are
// read from a device tensor `hyper` each step, so a schedule advances them without re-recording.
// CPU reference: reference/optimizers.hpp. Shaders: sgd_step.comp, adam_step.comp, max_norm.comp, and
// sgd_step_max_norm.comp (the SGD step and the max-norm of one weight matrix in one pass; its quads variant
// sgd_step_max_norm_quads.comp where a row is one subgroup's).

#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

namespace vkdrop::ops {

// hyper: (4) f32 = [lr, momentum, unused, unused] (written by ops::schedule or uploaded).
// w, g, v: same shape (any; typically all parameters of a model as one flat slice).
struct SgdConfig {
  float weight_decay = 0;
  bool nesterov = false;  // requires momentum > 0 at every step
};
// lr and momentum live on the device, so they are not validated here: keeping lr >= 0, momentum >= 0 and,
// with Nesterov, momentum > 0 is the schedule's job (Nesterov with momentum 0 is plain SGD, not an error).
// v is written at every step, also with momentum 0 (v = g' then). w, g, v and hyper must not overlap.
// Throws ShapeError for shapes that differ, ArgumentError for a wrong dtype or weight_decay < 0.
void sgd_step(Recorder& rec, const Tensor& w, const Tensor& g, const Tensor& v, const Tensor& hyper,
              const SgdConfig& config);
// The checks sgd_step and adam_step make of their configuration, for callers that want them early
// (a Model checks its optimizer when it is built, not at its first step). Throw ArgumentError.
void check_config(const SgdConfig& config);

// step: (2) u32, the 64-bit count of steps already taken (t - 1; the shader uses t = step + 1 for the bias
// correction). m, v: same shape as w.
struct AdamConfig {
  // double, as PyTorch keeps them: 1 - β and the bias corrections 1 - β^t are taken before rounding to float
  // (0.999f is 0.99900001, whose 1 - β would be 1.3e-5 off PyTorch's).
  double beta1 = 0.9, beta2 = 0.999;
  float eps = 1e-8f;
  float weight_decay = 0;
  bool decoupled = false;  // AdamW
};
// Only hyper[0] (lr) is read. `step` is read, never advanced: record counter_add on it after everything
// in the step that reads it. The bias corrections are computed per dispatch in float (as -expm1(t·ln β)
// with ln β from the host in double), within ~1e-7 relative of PyTorch's double ones.
// Throws ShapeError for shapes that differ, ArgumentError for a wrong dtype, β outside [0, 1), eps < 0 or
// weight_decay < 0.
void adam_step(Recorder& rec, const Tensor& w, const Tensor& g, const Tensor& m, const Tensor& v,
               const Tensor& hyper, const Tensor& step, const AdamConfig& config);
void check_config(const AdamConfig& config);

// How max_norm sums a row's squares: Auto takes Subgroup (subgroupAdd, max_norm.comp) where the device has
// subgroup arithmetic in compute shaders, else SharedTree (a shared-memory tree, max_norm_tree.comp, which
// every Vulkan device runs). Both sum in float; the order differs, so results may differ in the last bit.
enum class RowReduction { Auto, Subgroup, SharedTree };

// w: (out, in); each row (one unit's incoming weights) with L2 norm > c is scaled to norm c; the norm is
// summed in float. `workgroup` is the invocations per row, 0 = the best for the device (the tests set it to
// reach every path of both shaders on lavapipe): a power of two within the device's limits. Throws
// ArgumentError unless c > 0, for a bad workgroup, or when Subgroup is asked of a device without subgroup
// arithmetic; ShapeError unless w is 2-D. The dispatch's label names the shader and the workgroup, e.g.
// "max_norm (subgroupAdd, 8 per row)".
void max_norm(Recorder& rec, const Tensor& w, float c, RowReduction reduction = RowReduction::Auto,
              uint32_t workgroup = 0);

// sgd_step and then max_norm(w, c) in one dispatch, for a weight matrix w (out, in) with its gradient g and
// momentum buffer v of the same shape: the same arithmetic in the same order (sgd_step_max_norm.comp), reading
// and writing w once. `workgroup`: invocations per row as max_norm's (0 = the device's best, the same as
// max_norm's with subgroupAdd; the tests set it to reach the several-subgroup path on lavapipe). Needs subgroup
// arithmetic in compute shaders (fused_max_norm_runs); throws ArgumentError on a device without it, unless
// c > 0, for a bad workgroup or configuration; ShapeError unless w is 2-D and g, v are like it.
void sgd_step_max_norm(Recorder& rec, const Tensor& w, const Tensor& g, const Tensor& v, const Tensor& hyper,
                       const SgdConfig& config, float c, uint32_t workgroup = 0);
// Whether sgd_step_max_norm runs on this device.
bool fused_max_norm_runs(const DeviceInfo& device);

}  // namespace vkdrop::ops

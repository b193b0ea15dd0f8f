// Optimizer steps and the max-norm constraint: argument checks and dispatch sizing. The math is in
// shaders/sgd_step.comp, shaders/adam_step.comp and shaders/max_norm.comp.
#include <vkdrop/ops/optimizers.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace vkdrop::ops {

namespace {

void check_hyper(const char* op, const Tensor& hyper) {
  check_tensor(op, {"hyper", hyper}, {4}, DType::f32, "[lr, momentum, unused, unused]");
}

// SGD's tensors: w, g, v f32 of one shape, hyper (4), no two overlapping (the state is read and written in
// place by one invocation per element; aliasing any two would make an update read values it has just written).
void check_sgd_tensors(const char* op, const Tensor& w, const Tensor& g, const Tensor& v, const Tensor& hyper) {
  const std::string like_w = fmt::format("the shape of w '{}'", w.name);
  check_tensor(op, {"w", w}, w.shape, DType::f32, "");
  check_tensor(op, {"g", g}, w.shape, DType::f32, like_w);
  check_tensor(op, {"v", v}, w.shape, DType::f32, like_w);
  check_hyper(op, hyper);
  check_disjoint(op, {{"w", w}, {"g", g}, {"v", v}, {"hyper", hyper}});
}

// A row kernel's workgroup override: 0 (the device's best) or a power of two within the device's limits.
void check_row_workgroup(const char* op, uint32_t workgroup, const DeviceInfo& device) {
  const uint32_t most = std::min(device.max_workgroup_size[0], device.max_workgroup_invocations);
  if (workgroup != 0 && (!std::has_single_bit(workgroup) || workgroup > most)) {
    throw ArgumentError(fmt::format("{}: workgroup {} must be a power of two no larger than {} ({}), or 0 for the "
                                    "device's best",
                                    op, workgroup, most, device.name));
  }
}

}  // namespace

void check_config(const SgdConfig& config) {
  check_value("sgd_step", config.weight_decay >= 0 && std::isfinite(config.weight_decay), "weight decay",
              config.weight_decay, "finite and >= 0");
}

void check_config(const AdamConfig& config) {
  const char* op = config.decoupled ? "adamw_step" : "adam_step";
  check_value(op, config.beta1 >= 0 && config.beta1 < 1, "beta1", config.beta1, "in [0, 1)");
  check_value(op, config.beta2 >= 0 && config.beta2 < 1, "beta2", config.beta2, "in [0, 1)");
  check_value(op, config.eps >= 0 && std::isfinite(config.eps), "eps", config.eps, "finite and >= 0");
  check_value(op, config.weight_decay >= 0 && std::isfinite(config.weight_decay), "weight decay",
              config.weight_decay, "finite and >= 0");
}

void sgd_step(Recorder& rec, const Tensor& w, const Tensor& g, const Tensor& v, const Tensor& hyper,
              const SgdConfig& config) {
  constexpr const char* op = "sgd_step";
  check_config(config);
  check_sgd_tensors(op, w, g, v, hyper);
  const int64_t n = w.numel();
  if (n == 0) return;
  struct Params {
    uint32_t n;
    float weight_decay;
    uint32_t nesterov;
  } params{to_u32(n, op), config.weight_decay, config.nesterov ? 1u : 0u};
  const DeviceInfo& device = rec.context().info();
  rec.dispatch(rec.context().kernel("sgd_step", std::vector<uint32_t>{elementwise_workgroup(device)}),
               {w.slice, g.slice, v.slice, hyper.slice, w.slice, v.slice}, params, elementwise_groups(n, device),
               "sgd_step");
}

void adam_step(Recorder& rec, const Tensor& w, const Tensor& g, const Tensor& m, const Tensor& v,
               const Tensor& hyper, const Tensor& step, const AdamConfig& config) {
  const char* op = config.decoupled ? "adamw_step" : "adam_step";
  check_config(config);
  const std::string like_w = fmt::format("the shape of w '{}'", w.name);
  check_tensor(op, {"w", w}, w.shape, DType::f32, "");
  check_tensor(op, {"g", g}, w.shape, DType::f32, like_w);
  check_tensor(op, {"m", m}, w.shape, DType::f32, like_w);
  check_tensor(op, {"v", v}, w.shape, DType::f32, like_w);
  check_hyper(op, hyper);
  check_counter(op, {"step", step});
  check_disjoint(op, {{"w", w}, {"g", g}, {"m", m}, {"v", v}, {"hyper", hyper}, {"step", step}});
  const int64_t n = w.numel();
  if (n == 0) return;

  // The scalars PyTorch derives from β on the host in double, rounded once here. ln 0 = -inf is what the
  // shader expects for β = 0 (no bias correction).
  const double beta1 = config.beta1, beta2 = config.beta2;
  const float log_beta1 = beta1 == 0 ? -std::numeric_limits<float>::infinity() : static_cast<float>(std::log(beta1));
  const float log_beta2 = beta2 == 0 ? -std::numeric_limits<float>::infinity() : static_cast<float>(std::log(beta2));
  struct Params {
    uint32_t n;
    float beta1, beta2, one_minus_beta1, one_minus_beta2, eps, weight_decay, log_beta1, log_beta2;
    uint32_t decoupled;
  } params{to_u32(n, op),
           static_cast<float>(beta1),
           static_cast<float>(beta2),
           static_cast<float>(1.0 - beta1),
           static_cast<float>(1.0 - beta2),
           config.eps,
           config.weight_decay,
           log_beta1,
           log_beta2,
           config.decoupled ? 1u : 0u};
  const DeviceInfo& device = rec.context().info();
  rec.dispatch(rec.context().kernel("adam_step", std::vector<uint32_t>{elementwise_workgroup(device)}),
               {w.slice, g.slice, m.slice, v.slice, hyper.slice, step.slice}, params, elementwise_groups(n, device),
               op);
}

namespace {

// row_partials.glsl's P for a row reduction of `workgroup` invocations with subgroupAdd: 8 on CPU devices whose
// workgroup is one subgroup (lavapipe), so that its order of the squares, 8 lanes', is the same at every
// subgroup size; 0 (the shaders' own subgroupAdd) elsewhere.
uint32_t row_partials(const DeviceInfo& device, uint32_t workgroup) {
  constexpr uint32_t partials = 8;
  const bool one_subgroup = workgroup == device.subgroup_size && device.subgroup_shuffle;
  return device.is_cpu() && one_subgroup && (workgroup % partials == 0 || partials % workgroup == 0) ? partials : 0;
}

}  // namespace

void max_norm(Recorder& rec, const Tensor& w, float c, RowReduction reduction, uint32_t workgroup_size) {
  constexpr const char* op = "max_norm";
  check_value(op, c > 0, "max-norm bound c", c, "> 0");
  check_rank(op, {"w", w}, {2}, "(out, in): one row per unit");
  check_dtype(op, {"w", w}, DType::f32);
  const DeviceInfo& device = rec.context().info();
  if (reduction == RowReduction::Subgroup && !device.subgroup_arithmetic) {
    throw ArgumentError(fmt::format("{}: RowReduction::Subgroup needs subgroup arithmetic in compute shaders, which "
                                    "{} lacks; use RowReduction::Auto",
                                    op, device.name));
  }
  const bool subgroup = reduction == RowReduction::Subgroup ||
                        (reduction == RowReduction::Auto && device.subgroup_arithmetic);
  check_row_workgroup(op, workgroup_size, device);
  const int64_t rows = w.dim(0), cols = w.dim(1);
  if (rows == 0 || cols == 0) return;
  to_u32(w.numel(), op);  // the shader indexes row * cols + j in 32 bits
  struct Params {
    uint32_t rows, cols;
    float c;
  } params{to_u32(rows, op), to_u32(cols, op), c};
  // One group per row; with subgroupAdd on lavapipe one subgroup, so no barrier.
  uint32_t workgroup = subgroup ? subgroup_row_workgroup(cols, device) : row_workgroup(cols, device);
  if (workgroup_size != 0) workgroup = workgroup_size;
  const std::array<uint32_t, 3> groups{std::min(params.rows, device.max_workgroup_count[0]), 1, 1};
  // The label names the shader and the workgroup: profiles show it, and the tests check the choice by it.
  const std::vector<uint32_t> spec =
      subgroup ? std::vector<uint32_t>{workgroup, row_partials(device, workgroup)} : std::vector<uint32_t>{workgroup};
  rec.dispatch(rec.context().kernel(subgroup ? "max_norm" : "max_norm_tree", spec),
               {w.slice}, params, groups,
               fmt::format("max_norm ({}, {} per row)", subgroup ? "subgroupAdd" : "shared tree", workgroup));
}

bool fused_max_norm_runs(const DeviceInfo& device) { return device.subgroup_arithmetic; }

void sgd_step_max_norm(Recorder& rec, const Tensor& w, const Tensor& g, const Tensor& v, const Tensor& hyper,
                       const SgdConfig& config, float c, uint32_t workgroup_size) {
  constexpr const char* op = "sgd_step_max_norm";
  check_config(config);
  check_value(op, c > 0, "max-norm bound c", c, "> 0");
  check_rank(op, {"w", w}, {2}, "(out, in): one row per unit");
  check_sgd_tensors(op, w, g, v, hyper);
  const DeviceInfo& device = rec.context().info();
  if (!fused_max_norm_runs(device)) {
    throw ArgumentError(fmt::format("{}: needs subgroup arithmetic in compute shaders, which {} lacks; record "
                                    "sgd_step and max_norm instead",
                                    op, device.name));
  }
  check_row_workgroup(op, workgroup_size, device);
  const int64_t rows = w.dim(0), cols = w.dim(1);
  if (rows == 0 || cols == 0) return;
  to_u32(w.numel(), op);  // the shader indexes row * cols + j in 32 bits
  struct Params {
    uint32_t rows, cols;
    float c, weight_decay;
    uint32_t nesterov;
  } params{to_u32(rows, op), to_u32(cols, op), c, config.weight_decay, config.nesterov ? 1u : 0u};
  // max_norm's workgroup with subgroupAdd, so that the squares are summed in the same order as there.
  const uint32_t workgroup = workgroup_size != 0 ? workgroup_size : subgroup_row_workgroup(cols, device);
  const std::array<uint32_t, 3> groups{std::min(params.rows, device.max_workgroup_count[0]), 1, 1};
  // Rows of whole quads move four columns a lane (lavapipe stores a vec4 per lane for the cost of a float), in
  // the same order of the squares as max_norm:
  //   - sgd_step_max_norm_quads.comp, a row per subgroup, which shuffles the squares into that order: where
  //     shuffles are cheap (lavapipe with 8 lanes: one vpermd) and the order is the subgroup's own;
  //   - sgd_step_max_norm_pairs.comp, a row per pair of lanes, no shuffle in its loop: on a CPU device whose
  //     shuffles are loops over the lanes (lavapipe with 4 or 16). Zen 5, alternating runs, the MLP sample's
  //     1024 x 1024 weight: 16 lanes 2.3-2.6 ms against 3.2-4.1 for the one-column kernel, 4 lanes 1.7 against
  //     3.3-3.4; at 8 lanes the quads kernel was as fast or faster (1.1-2.0 against 1.4-1.6 ms).
  // Elsewhere the one-column kernel runs.
  const uint32_t partials = row_partials(device, workgroup);
  const bool quad_rows = cols % 4 == 0 && w.numel() / 4 <= device.max_texel_buffer_elements;
  if (quad_rows && partials == 8 && workgroup % 2 == 0 && !cheap_subgroup_shuffle(device)) {
    const uint32_t rows_per_group = workgroup / 2;
    const std::array<uint32_t, 3> pair_groups{
        std::min((params.rows + rows_per_group - 1) / rows_per_group, device.max_workgroup_count[0]), 1, 1};
    rec.dispatch(rec.context().kernel("sgd_step_max_norm_pairs", std::vector<uint32_t>{workgroup}),
                 {w.slice, g.slice, v.slice, hyper.slice, w.slice, v.slice}, params, pair_groups,
                 fmt::format("sgd_step + max_norm (quads, a row per lane pair, {} rows per workgroup)",
                             rows_per_group));
    return;
  }
  const bool quads = workgroup == device.subgroup_size && device.subgroup_shuffle && workgroup % 4 == 0 &&
                     (partials == 0 || partials == workgroup) && quad_rows;
  const char* kernel = quads ? "sgd_step_max_norm_quads" : "sgd_step_max_norm";
  rec.dispatch(rec.context().kernel(kernel, quads ? std::vector<uint32_t>{workgroup}
                                                  : std::vector<uint32_t>{workgroup, partials}),
               {w.slice, g.slice, v.slice, hyper.slice, w.slice, v.slice}, params, groups,
               fmt::format("sgd_step + max_norm ({}subgroupAdd, {} per row)", quads ? "quads, " : "", workgroup));
}

}  // namespace vkdrop::ops

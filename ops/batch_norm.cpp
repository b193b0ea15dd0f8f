#include <vkdrop/ops/batch_norm.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/fast_divide.hpp>
#include <vkdrop/ops/quads.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/reference/dropout_mask.hpp>
#include <vkdrop/reference/dropout_scaling.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/kernel.hpp>

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

namespace vkdrop::ops {

namespace {

// x as (N, C, L).
struct Channels {
  uint32_t N, C, L;
  int64_t per_channel() const { return int64_t{N} * L; }  // M
};

// Checks x and returns its channels; every other tensor is checked against them by the caller.
Channels channels_of(const char* op, Arg x) {
  check_rank(op, x, {2, 3, 4}, "(N, C), (N, C, L) or (N, C, H, W)");
  check_dtype(op, x, DType::f32);
  const Tensor& t = x.tensor;
  const std::string what = fmt::format("{}: {}", op, x.role);
  return Channels{to_u32(t.dim(0), what), to_u32(t.dim(1), what),
                  to_u32(element_count(Shape(t.shape.begin() + 2, t.shape.end())), what)};
}

// A (C) f32 tensor, one value per channel of x.
void check_per_channel(const char* op, Arg arg, const Tensor& x) {
  check_tensor(op, arg, {x.dim(1)}, DType::f32, fmt::format("one per channel of x {}", shape_text(x.shape)));
}

void check_eps(const char* op, float eps) {
  check_value(op, std::isfinite(eps) && eps >= 0, "eps", eps, "finite and >= 0");
}

// The divisor batch_norm_statistics.comp and batch_norm_backward_sums.comp find a unit's row (n, c) by: a row
// is L / 4 quads when L is a multiple of four, else L values.
FastDivisor row_units(const Channels& ch) { return fast_divisor(ch.L % 4 == 0 ? ch.L / 4 : ch.L); }

// The workgroup of a kernel that takes whole planes (n, c) of L values (batch_norm_normalize.comp,
// batch_norm_backward_dx.comp). On a CPU device a plane of 32 to 64 units (quads when L is a multiple of four,
// else values) takes a workgroup of as many invocations, one unit of each plane apiece: 14 x 14 is 49 quads, 77 %
// of 64 invocations, and the CNN's normalize and dx at that size ran about 20 % faster so (alternating runs, 16
// lanes); a 28 x 28 plane's 196 quads as one workgroup were slower than 64 invocations. Otherwise the
// element-wise workgroup.
uint32_t plane_workgroup(const Channels& ch, const DeviceInfo& device) {
  const uint32_t units = ch.L % 4 == 0 ? ch.L / 4 : ch.L;
  if (device.is_cpu() && units >= 32 && units <= 64) return units;
  return elementwise_workgroup(device);
}

// Workgroups for a plane kernel: a grid-stride loop over planes, or one flat loop when the rows are shorter than
// the workgroup.
std::array<uint32_t, 3> plane_groups(const Channels& ch, const DeviceInfo& device) {
  if (ch.L >= plane_workgroup(ch, device)) {
    return groups_1d(int64_t{ch.N} * ch.C, planes_per_workgroup(ch.L, device), device);
  }
  return elementwise_groups(int64_t{ch.N} * ch.C * ch.L, device);
}

// A plane kernel's PLANES, QUADS and UNIT_EACH specialization constants: whole planes per workgroup
// (plane_groups' first case), planes moved in quads (L % 4 == 0), and a plane's quads exactly the workgroup (no
// inner loop). Fixed per pipeline, so that it holds only the path it runs: 28 x 28 normalize 6.8-9.7 -> 3.9-4.8 ms
// (PLANES, QUADS), 14 x 14 normalize and dx 3.8-4.1 -> 3.0-3.5 ms (UNIT_EACH), the CNN at 16 lanes, alternating.
std::array<uint32_t, 3> plane_shape(const Channels& ch, const DeviceInfo& device) {
  const uint32_t workgroup = plane_workgroup(ch, device);
  return {ch.L >= workgroup ? 1u : 0u, ch.L % 4 == 0 ? 1u : 0u, ch.L % 4 == 0 && ch.L / 4 == workgroup ? 1u : 0u};
}

// The epilogue's checks, and the values its shaders take: the dropout's keep threshold, its scale in this
// pass, and the scale of the gradient where it flows (1 without dropout).
struct EpilogueParams {
  uint32_t dropout2d = 0;  // batch_norm_normalize's DROPOUT2D: 0 none, 1 scale (eval), 2 masks and scale
  uint32_t seed_lo = 0, seed_hi = 0, layer = 0, threshold = 0;
  float scale = 1, gradient_scale = 1;
};

EpilogueParams epilogue_params(const char* op, const BatchNormEpilogue& e, const Tensor& x) {
  EpilogueParams params;
  if (!e.dropout2d) return params;
  if (!e.relu) throw ArgumentError(fmt::format("{}: a Dropout2d epilogue needs the ReLU before it", op));
  check_rank(op, {"x", x}, {3, 4}, "(N, C, H, W) or (N, C, L) for a Dropout2d epilogue");
  const DropoutConfig& d = *e.dropout2d;
  try {
    ref::check_dropout_p(d.p);
  } catch (const ArgumentError& error) {
    throw ArgumentError(fmt::format("{}: {}", op, error.what()));
  }
  if (e.draw_masks) {
    if (e.step == nullptr)
      throw ArgumentError(fmt::format("{}: a Dropout2d epilogue that draws masks needs the step", op));
    check_counter(op, {"step", *e.step});
  }
  params.dropout2d = e.draw_masks ? 2u : 1u;
  params.seed_lo = static_cast<uint32_t>(d.seed);
  params.seed_hi = static_cast<uint32_t>(d.seed >> 32);
  params.layer = d.layer;
  params.threshold = ref::keep_threshold(d.p);
  // Rounded to float once on the host, as dropout2d_forward does: the same products.
  params.scale = static_cast<float>(ref::dropout_scale(d.p, d.scaling, e.draw_masks));
  params.gradient_scale = static_cast<float>(ref::dropout_scale(d.p, d.scaling, /*training=*/true));
  return params;
}

std::string epilogue_text(const BatchNormEpilogue& e) {
  if (!e.relu) return "";
  if (!e.dropout2d) return " + relu";
  return e.draw_masks ? " + relu + dropout2d" : " + relu + dropout2d (eval)";
}

// y = (x − mean[c]) · invstd[c] · weight[c] + bias[c], where `spread` holds invstd, or, from_variance, the
// variance (invstd = 1 / sqrt(var + eps)); then the epilogue.
void record_normalize(Recorder& rec, const Tensor& y, const Tensor& x, const Tensor& mean, const Tensor& spread,
                      const Tensor& weight, const Tensor& bias, const Channels& ch, float eps, bool from_variance,
                      const BatchNormEpilogue& epilogue, const EpilogueParams& e) {
  Context& ctx = rec.context();
  const DeviceInfo& device = ctx.info();
  struct Params {
    uint32_t planes, C, L;
    float eps;
    uint32_t seed_lo, seed_hi, layer, threshold;
    float scale;
  } params{ch.N * ch.C, ch.C, ch.L, eps, e.seed_lo, e.seed_hi, e.layer, e.threshold, e.scale};
  // The step is read only when masks are drawn; mean stands in for it otherwise.
  const BufferSlice step = e.dropout2d == 2 ? epilogue.step->slice : mean.slice;
  const auto [planes, quads, unit_each] = plane_shape(ch, device);
  rec.dispatch(ctx.kernel("batch_norm_normalize",
                          std::vector<uint32_t>{plane_workgroup(ch, device), from_variance ? 1u : 0u,
                                                epilogue.relu ? 1u : 0u, e.dropout2d, planes, quads, unit_each}),
               {x.slice, mean.slice, spread.slice, weight.slice, bias.slice, y.slice, quad_binding(ctx, x.slice),
                quad_binding(ctx, y.slice), step},
               params, plane_groups(ch, device),
               fmt::format("batch_norm {}{}", from_variance ? "forward (eval)" : "normalize", epilogue_text(epilogue)));
}

}  // namespace

void batch_norm_forward_training(Recorder& rec, const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd,
                                 const Tensor& running_mean, const Tensor& running_var,
                                 const Tensor& num_batches_tracked, const Tensor& x, const Tensor& weight,
                                 const Tensor& bias, float eps, float momentum,
                                 const BatchNormEpilogue& epilogue) {
  constexpr const char* op = "batch_norm_forward_training";
  const Channels ch = channels_of(op, {"x", x});
  const EpilogueParams e = epilogue_params(op, epilogue, x);
  check_tensor(op, {"y", y}, x.shape, DType::f32, "as x");
  for (const Arg arg : {Arg{"save_mean", save_mean}, Arg{"save_invstd", save_invstd}, Arg{"running_mean", running_mean},
                        Arg{"running_var", running_var}, Arg{"weight", weight}, Arg{"bias", bias}}) {
    check_per_channel(op, arg, x);
  }
  check_tensor(op, {"num_batches_tracked", num_batches_tracked}, {}, DType::f32, "one value, as PyTorch's 0-d counter");
  check_disjoint(op, {{"y", y}, {"save_mean", save_mean}, {"save_invstd", save_invstd}, {"running_mean", running_mean},
                      {"running_var", running_var}, {"num_batches_tracked", num_batches_tracked}, {"x", x},
                      {"weight", weight}, {"bias", bias}});
  check_eps(op, eps);
  check_value(op, std::isfinite(momentum) && momentum >= 0 && momentum <= 1, "momentum", momentum, "in [0, 1]");
  const int64_t M = ch.per_channel();
  const std::string one = fmt::format("more than 1 value per channel when training (x {} has N·L = 1), as PyTorch",
                                      shape_text(x.shape));
  check_value(op, M != 1, "values per channel", double(M), one.c_str());
  if (M == 0 || ch.C == 0) return;
  to_u32(x.numel(), fmt::format("{}: x", op));  // the shaders index x in 32 bits
  Context& ctx = rec.context();
  const DeviceInfo& device = ctx.info();
  struct Params {
    FastDivisor row_units;
    uint32_t N, C, L;
    float eps, momentum;
  } params{row_units(ch), ch.N, ch.C, ch.L, eps, momentum};
  rec.dispatch(ctx.kernel("batch_norm_statistics", std::vector<uint32_t>{row_workgroup(M, device)}),
               {x.slice, save_mean.slice, save_invstd.slice, running_mean.slice, running_var.slice,
                num_batches_tracked.slice, quad_binding(ctx, x.slice)},
               params, groups_1d(ch.C, 1, device), "batch_norm statistics");
  record_normalize(rec, y, x, save_mean, save_invstd, weight, bias, ch, eps, /*from_variance=*/false, epilogue, e);
}

void batch_norm_forward_eval(Recorder& rec, const Tensor& y, const Tensor& x, const Tensor& running_mean,
                             const Tensor& running_var, const Tensor& weight, const Tensor& bias, float eps,
                             const BatchNormEpilogue& epilogue) {
  constexpr const char* op = "batch_norm_forward_eval";
  const Channels ch = channels_of(op, {"x", x});
  const EpilogueParams e = epilogue_params(op, epilogue, x);
  check_tensor(op, {"y", y}, x.shape, DType::f32, "as x");
  for (const Arg arg : {Arg{"running_mean", running_mean}, Arg{"running_var", running_var}, Arg{"weight", weight},
                        Arg{"bias", bias}}) {
    check_per_channel(op, arg, x);
  }
  check_disjoint(op, {{"y", y}, {"x", x}, {"running_mean", running_mean}, {"running_var", running_var},
                      {"weight", weight}, {"bias", bias}});
  check_eps(op, eps);
  to_u32(x.numel(), fmt::format("{}: x", op));
  if (x.numel() == 0) return;
  record_normalize(rec, y, x, running_mean, running_var, weight, bias, ch, eps, /*from_variance=*/true, epilogue, e);
}

void batch_norm_backward(Recorder& rec, const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                         const Tensor& x, const Tensor& weight, const Tensor& save_mean, const Tensor& save_invstd,
                         const BatchNormEpilogue& epilogue, const Tensor* output) {
  constexpr const char* op = "batch_norm_backward";
  const Channels ch = channels_of(op, {"x", x});
  const EpilogueParams e = epilogue_params(op, BatchNormEpilogue{epilogue.relu, epilogue.dropout2d, false, nullptr}, x);
  if (epilogue.relu && output == nullptr)
    throw ArgumentError(fmt::format("{}: the gradient through an epilogue needs the forward's output", op));
  const Tensor* relu_output = epilogue.relu ? output : nullptr;
  check_tensor(op, {"dy", dy}, x.shape, DType::f32, "as x");
  const bool with_dx = dx.numel() > 0;
  if (with_dx) check_tensor(op, {"dx", dx}, x.shape, DType::f32, "as x, or no elements when dL/dx is not wanted");
  for (const Arg arg : {Arg{"dweight", dweight}, Arg{"dbias", dbias}, Arg{"weight", weight}, Arg{"save_mean", save_mean},
                        Arg{"save_invstd", save_invstd}}) {
    check_per_channel(op, arg, x);
  }
  // relu_output is the forward's y: read, never written here, so it only must not be what backward writes.
  if (relu_output != nullptr) {
    check_tensor(op, {"relu_output", *relu_output}, x.shape, DType::f32, "as x");
    check_disjoint(op, {{"relu_output", *relu_output}, {"dweight", dweight}, {"dbias", dbias}});
    if (with_dx) check_disjoint(op, {{"relu_output", *relu_output}, {"dx", dx}});
  }
  if (with_dx) {
    check_disjoint(op, {{"dx", dx}, {"dweight", dweight}, {"dbias", dbias}, {"dy", dy}, {"x", x}, {"weight", weight},
                        {"save_mean", save_mean}, {"save_invstd", save_invstd}});
  } else {
    check_disjoint(op, {{"dweight", dweight}, {"dbias", dbias}, {"dy", dy}, {"x", x}, {"weight", weight},
                        {"save_mean", save_mean}, {"save_invstd", save_invstd}});
  }
  if (ch.C == 0) return;
  if (ch.per_channel() == 0) {  // an empty batch: no value moves the parameters (PyTorch's gradients are zeros)
    rec.fill(dweight.slice, 0u);
    rec.fill(dbias.slice, 0u);
    return;
  }
  to_u32(x.numel(), fmt::format("{}: x", op));
  Context& ctx = rec.context();
  const DeviceInfo& device = ctx.info();
  struct Params {
    FastDivisor row_units;
    uint32_t N, C, L;
    float gradient_scale;
  } params{row_units(ch), ch.N, ch.C, ch.L, e.gradient_scale};
  // Without relu the y bindings are never read; dy stands in for them.
  const uint32_t relu = relu_output != nullptr ? 1u : 0u;
  const BufferSlice y = relu_output != nullptr ? relu_output->slice : dy.slice;
  const char* through_relu =
      relu_output == nullptr ? "" : (epilogue.dropout2d ? " (through relu + dropout2d)" : " (through relu)");
  rec.dispatch(ctx.kernel("batch_norm_backward_sums",
                          std::vector<uint32_t>{row_workgroup(ch.per_channel(), device), relu}),
               {dy.slice, x.slice, save_mean.slice, save_invstd.slice, dweight.slice, dbias.slice,
                quad_binding(ctx, dy.slice), quad_binding(ctx, x.slice), y, quad_binding(ctx, y)},
               params, groups_1d(ch.C, 1, device), fmt::format("batch_norm backward sums{}", through_relu));
  if (!with_dx) return;
  struct DxParams {
    uint32_t planes, C, L, M;
    float gradient_scale;
  } dx_params{ch.N * ch.C, ch.C, ch.L, static_cast<uint32_t>(ch.per_channel()), e.gradient_scale};
  const auto [planes, quads, unit_each] = plane_shape(ch, device);
  rec.dispatch(ctx.kernel("batch_norm_backward_dx",
                          std::vector<uint32_t>{plane_workgroup(ch, device), relu, planes, quads, unit_each}),
               {dy.slice, x.slice, weight.slice, save_mean.slice, save_invstd.slice, dweight.slice, dbias.slice,
                dx.slice, quad_binding(ctx, dy.slice), quad_binding(ctx, x.slice), quad_binding(ctx, dx.slice), y,
                quad_binding(ctx, y)},
               dx_params, plane_groups(ch, device), fmt::format("batch_norm backward dx{}", through_relu));
}

}  // namespace vkdrop::ops

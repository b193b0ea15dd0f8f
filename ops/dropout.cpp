#include <vkdrop/ops/dropout.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/elementwise.hpp>
#include <vkdrop/ops/fast_divide.hpp>
#include <vkdrop/ops/quads.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/reference/dropout_mask.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/kernel.hpp>

#include <fmt/format.h>

#include <string>
#include <vector>

namespace vkdrop::ops {

namespace {

// dropout.comp's push constants.
struct DropoutParams {
  uint32_t seed_lo, seed_hi;
  uint32_t n;
  uint32_t layer;
  uint32_t threshold;
  float scale;
};

// dropout2d.comp's push constants.
struct Dropout2dParams {
  uint32_t seed_lo, seed_hi;
  uint32_t channels;
  uint32_t spatial;
  uint32_t layer;
  uint32_t threshold;
  float scale;
  uint32_t run;  // consecutive work items per invocation
};

// dropout2d_sets.comp's push constants.
struct Dropout2dSetsParams {
  uint32_t seed_lo, seed_hi;
  uint32_t channels;
  uint32_t quads;  // S / 4
  uint32_t layer;
  uint32_t threshold;
  float scale;
  uint32_t items;  // channel quads * sets
  FastDivisor by_sets;
  uint32_t sets;   // ceil(quads / 4)
};

// The mask parameters of `config`, validated: keep threshold and the scale of kept elements.
struct MaskParams {
  uint32_t threshold;
  float scale;
};

MaskParams mask_params(const char* op, const DropoutConfig& config, bool training) {
  try {
    ref::check_dropout_p(config.p);
  } catch (const ArgumentError& e) {
    throw ArgumentError(fmt::format("{}: {}", op, e.what()));
  }
  // Rounded to float once on the host, as the CPU reference does: x * scale is then the same f32 product
  // on both sides.
  return {ref::keep_threshold(config.p), static_cast<float>(ref::dropout_scale(config.p, config.scaling, training))};
}

// out and in: f32, the same shape, and either the same memory (in place) or disjoint; step: the counter.
void check_pass(const char* op, Arg out, Arg in, const Tensor& step) {
  check_dtype(op, out, DType::f32);
  check_dtype(op, in, DType::f32);
  check_same_shape(op, out, in);
  check_in_place_or_disjoint(op, out, in);
  check_counter(op, {"step", step});
}

// Element-wise dropout.comp or dropout_interleaved.comp / its _u64 twin (draws_at_once 1 or 4, dropout.glsl,
// ops::quad_set_kernel): out = keep ? in * scale : 0 (in ReLU'd first when relu), the mask drawn when draw_mask.
void record_dropout(Recorder& rec, const Tensor& out, const Tensor& in, const DropoutConfig& config,
                    const MaskParams& mask, bool draw_mask, const Tensor& step, const char* label, bool relu = false,
                    uint32_t draws_at_once = 0) {
  Context& ctx = rec.context();
  const uint32_t n = to_u32(in.numel(), label);
  const uint32_t local = elementwise_workgroup(ctx.info());
  if (draws_at_once == 0) draws_at_once = dropout_draws_at_once(ctx.info());
  const bool interleaved = draws_at_once > 1;  // dropout_interleaved.comp: no loop, quad_sets.glsl
  const auto [partial, contiguous, lone_quad] = quad_set_flags(n, ctx.info());
  const Kernel& kernel =
      ctx.kernel(interleaved ? quad_set_kernel("dropout_interleaved", ctx.info()) : "dropout",
                 std::vector<uint32_t>{interleaved ? loop_free_workgroup(ctx.info()) : local, draw_mask ? 1u : 0u,
                                       relu ? 1u : 0u, partial, contiguous, lone_quad});
  const DropoutParams params{static_cast<uint32_t>(config.seed), static_cast<uint32_t>(config.seed >> 32), n,
                             config.layer, mask.threshold, mask.scale};
  rec.dispatch(kernel,
               {in.slice, out.slice, step.slice, quad_binding(ctx, in.slice), quad_binding(ctx, out.slice)},
               params, interleaved ? quad_set_groups(n, ctx.info()) : quad_groups(quads_of(n), ctx.info()),
               label);
}

// Eval mode: no mask. Inverted scaling is the identity (a copy, or nothing in place); vanilla scales by 1 - p.
void record_eval(Recorder& rec, const Tensor& y, const Tensor& x, const DropoutConfig& config,
                 const MaskParams& mask, const Tensor& step, const char* label) {
  if (config.scaling == DropoutScaling::Inverted) {
    if (y.slice.buffer != x.slice.buffer || y.slice.offset != x.slice.offset) rec.copy(x.slice, y.slice);
    return;
  }
  record_dropout(rec, y, x, config, mask, /*draw_mask=*/false, step, label);
}

// The (N*C, S) view of a Dropout2d input: channels and elements per channel.
struct Channels {
  int64_t count;    // N*C
  int64_t spatial;  // S = H*W or L
};

Channels channels_of(const char* op, const char* name, const Tensor& t) {
  check_rank(op, {name, t}, {3, 4}, "(N, C, H, W) or (N, C, L)");
  int64_t spatial = 1;
  for (size_t d = 2; d < t.rank(); ++d) spatial *= t.dim(d);
  return {t.dim(0) * t.dim(1), spatial};
}

// Channel-wise dropout: dropout2d_sets.comp (or its _u64 twin) when `loop_free` (a CPU device's kernel, for S % 4 ==
// 0), else dropout2d.comp.
void record_dropout2d(Recorder& rec, const Tensor& out, const Tensor& in, const Channels& channels,
                      const DropoutConfig& config, const MaskParams& mask, const Tensor& step, const char* label,
                      bool loop_free) {
  Context& ctx = rec.context();
  to_u32(in.numel(), label);  // every element index must fit the shader's uint
  const uint32_t seed_lo = static_cast<uint32_t>(config.seed), seed_hi = static_cast<uint32_t>(config.seed >> 32);
  if (loop_free) {
    // An invocation per (channel quad, four positions): see dropout2d_sets.glsl.
    const uint32_t quads = static_cast<uint32_t>(channels.spatial / 4);
    const uint32_t sets = (quads + 3) / 4;
    const uint32_t items = to_u32(quads_of(channels.count) * sets, label);
    const bool pairs = u64_stores(ctx.info()) && quads % 2 == 0;
    const Kernel& kernel = ctx.kernel(pairs ? "dropout2d_sets_u64" : "dropout2d_sets",
                                      std::vector<uint32_t>{loop_free_workgroup(ctx.info()),
                                                            channels.count % 4 != 0 ? 1u : 0u, quads % 4 != 0 ? 1u : 0u});
    const Dropout2dSetsParams params{seed_lo,    seed_hi, static_cast<uint32_t>(channels.count), quads, config.layer,
                                     mask.threshold, mask.scale, items, fast_divisor(sets), sets};
    rec.dispatch(kernel, {in.slice, out.slice, step.slice}, params, loop_free_groups(items, ctx.info()), label);
    return;
  }
  const uint32_t local = elementwise_workgroup(ctx.info());
  const Kernel& kernel = ctx.kernel("dropout2d", std::vector<uint32_t>{local});
  const Dropout2dParams params{seed_lo, seed_hi, static_cast<uint32_t>(channels.count),
                               static_cast<uint32_t>(channels.spatial), config.layer, mask.threshold, mask.scale,
                               quads_per_invocation(ctx.info())};
  // One work item per (channel quad, position), a position being a quad of elements when S % 4 == 0;
  // quad_groups sizes the grid for quads_per_invocation items an invocation, taken as runs.
  const int64_t positions = channels.spatial % 4 == 0 ? channels.spatial / 4 : channels.spatial;
  rec.dispatch(kernel,
               {in.slice, out.slice, step.slice, quad_binding(ctx, in.slice), quad_binding(ctx, out.slice)},
               params, quad_groups(quads_of(channels.count) * positions, ctx.info()), label);
}

// The kernel a device runs for channel-wise dropout: the loop-free one on CPU devices where channels are whole
// quads.
bool dropout2d_loop_free(const DeviceInfo& device, const Channels& channels) {
  return device.is_cpu() && channels.spatial % 4 == 0;
}

}  // namespace

void dropout_forward(Recorder& rec, const Tensor& y, const Tensor& x, const DropoutConfig& config, bool training,
                     const Tensor& step) {
  const char* op = "dropout_forward";
  const MaskParams mask = mask_params(op, config, training);
  check_pass(op, {"y", y}, {"x", x}, step);
  if (x.numel() == 0) return;
  if (!training) return record_eval(rec, y, x, config, mask, step, "dropout forward (eval)");
  record_dropout(rec, y, x, config, mask, /*draw_mask=*/true, step, "dropout forward");
}

void dropout_forward(Recorder& rec, const Tensor& y, const Tensor& x, const DropoutConfig& config, bool training,
                     const Tensor& step, uint32_t draws_at_once) {
  const char* op = "dropout_forward";
  if (draws_at_once != 1 && draws_at_once != 4) {
    throw ArgumentError(fmt::format("{}: invalid draws_at_once = {}: expected 1 (dropout.comp) or 4 "
                                    "(dropout_interleaved.comp)", op, draws_at_once));
  }
  const MaskParams mask = mask_params(op, config, training);
  check_pass(op, {"y", y}, {"x", x}, step);
  if (x.numel() == 0) return;
  record_dropout(rec, y, x, config, mask, /*draw_mask=*/training, step,
                 training ? "dropout forward" : "dropout forward (eval)", /*relu=*/false, draws_at_once);
}

void dropout_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const DropoutConfig& config,
                      const Tensor& step) {
  const char* op = "dropout_backward";
  const MaskParams mask = mask_params(op, config, /*training=*/true);
  check_pass(op, {"dx", dx}, {"dy", dy}, step);
  if (dy.numel() == 0) return;
  record_dropout(rec, dx, dy, config, mask, /*draw_mask=*/true, step, "dropout backward");
}

void dropout2d_forward(Recorder& rec, const Tensor& y, const Tensor& x, const DropoutConfig& config, bool training,
                       const Tensor& step) {
  const char* op = "dropout2d_forward";
  const MaskParams mask = mask_params(op, config, training);
  const Channels channels = channels_of(op, "x", x);
  check_pass(op, {"y", y}, {"x", x}, step);
  if (x.numel() == 0) return;
  // Without a mask, channel-wise and element-wise dropout are the same scaling.
  if (!training) return record_eval(rec, y, x, config, mask, step, "dropout2d forward (eval)");
  record_dropout2d(rec, y, x, channels, config, mask, step, "dropout2d forward",
                   dropout2d_loop_free(rec.context().info(), channels));
}

void dropout2d_forward(Recorder& rec, const Tensor& y, const Tensor& x, const DropoutConfig& config,
                       const Tensor& step, bool loop_free) {
  const char* op = "dropout2d_forward";
  const MaskParams mask = mask_params(op, config, /*training=*/true);
  const Channels channels = channels_of(op, "x", x);
  check_pass(op, {"y", y}, {"x", x}, step);
  if (loop_free && channels.spatial % 4 != 0) {
    throw ArgumentError(fmt::format("{}: the loop-free kernel needs a multiple of 4 elements per channel; x {} has {}",
                                    op, shape_text(x.shape), channels.spatial));
  }
  if (x.numel() == 0) return;
  record_dropout2d(rec, y, x, channels, config, mask, step, "dropout2d forward", loop_free);
}

void dropout2d_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const DropoutConfig& config,
                        const Tensor& step) {
  const char* op = "dropout2d_backward";
  const MaskParams mask = mask_params(op, config, /*training=*/true);
  const Channels channels = channels_of(op, "dy", dy);
  check_pass(op, {"dx", dx}, {"dy", dy}, step);
  if (dy.numel() == 0) return;
  record_dropout2d(rec, dx, dy, channels, config, mask, step, "dropout2d backward",
                   dropout2d_loop_free(rec.context().info(), channels));
}

void relu_dropout_forward(Recorder& rec, const Tensor& y, const Tensor& x, const DropoutConfig& config, bool training,
                          const Tensor& step) {
  const char* op = "relu_dropout_forward";
  const MaskParams mask = mask_params(op, config, training);
  check_pass(op, {"y", y}, {"x", x}, step);
  if (x.numel() == 0) return;
  // Eval with inverted scaling is the ReLU alone (the dropout is the identity there).
  if (!training && config.scaling == DropoutScaling::Inverted) return relu_forward(rec, y, x);
  record_dropout(rec, y, x, config, mask, /*draw_mask=*/training, step,
                 training ? "relu + dropout forward" : "relu + dropout forward (eval)", /*relu=*/true);
}

void relu_dropout_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& y,
                           const DropoutConfig& config) {
  const MaskParams mask = mask_params("relu_dropout_backward", config, /*training=*/true);
  relu_backward(rec, dx, dy, y, mask.scale, "relu + dropout backward");
}

}  // namespace vkdrop::ops

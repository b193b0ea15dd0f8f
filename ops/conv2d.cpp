#include <vkdrop/ops/conv2d.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/fast_divide.hpp>
#include <vkdrop/ops/quads.hpp>
#include <vkdrop/ops/matmul.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/kernel.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <limits>
#include <string>
#include <vector>

namespace vkdrop::ops {

namespace {

// Push constants of im2col.comp and col2im.comp; keep in step with their Params blocks.
struct WindowParams {
  uint32_t count;  // im2col: items (see im2col.comp); col2im: elements of dx
  uint32_t C, H, W;
  uint32_t OH, OW;
  uint32_t KH, KW;
  uint32_t stride_h, stride_w;
  int32_t pad_h, pad_w;
  uint32_t dil_h, dil_w;
  // Divisors (shaders/fast_divide.glsl) of the sizes the shaders take indices apart by.
  FastDivisor by_ow, by_oh, by_kw, by_kh, by_w, by_h, by_c;
};

// Push constants of block_transpose.comp.
struct BlockTransposeParams {
  uint32_t count, A, B, E;
  FastDivisor by_a, by_e;
};

// Push constants of row_sum.comp.
struct RowSumParams {
  uint32_t R, L;
};

// A convolution's sizes, read from x's (or dx's) shape and the geometry.
struct Sizes {
  int64_t N, C, H, W, OH, OW;
  int64_t positions() const { return N * OH * OW; }  // rows of cols
};

std::string geometry_text(const Conv2dGeometry& g) {
  return fmt::format("kernel ({}, {}), stride ({}, {}), padding ({}, {}), dilation ({}, {})", g.kernel.h, g.kernel.w,
                     g.stride.h, g.stride.w, g.padding.h, g.padding.w, g.dilation.h, g.dilation.w);
}

// The sizes of a convolution over `input` (N, C, H, W) under g, checked: an f32 (N, C, H, W) tensor, a
// geometry that exists, padded extents the shaders' int arithmetic holds, and an output of at least 1 x 1.
Sizes sizes_of(const char* op, Arg input, const Conv2dGeometry& g) {
  check_conv2d_geometry(op, g);
  check_rank(op, input, {4}, "(N, C, H, W)");
  check_dtype(op, input, DType::f32);
  const Tensor& t = input.tensor;
  Sizes s{t.dim(0), t.dim(1), t.dim(2), t.dim(3), 0, 0};
  constexpr double k_int_max = std::numeric_limits<int32_t>::max();
  const double padded_h = double(s.H) + 2.0 * double(g.padding.h), padded_w = double(s.W) + 2.0 * double(g.padding.w);
  check_value(op, padded_h <= k_int_max, "padded height", padded_h, "at most 2^31 - 1");
  check_value(op, padded_w <= k_int_max, "padded width", padded_w, "at most 2^31 - 1");
  s.OH = conv2d_output_size(s.H, g.kernel.h, g.stride.h, g.padding.h, g.dilation.h);
  s.OW = conv2d_output_size(s.W, g.kernel.w, g.stride.w, g.padding.w, g.dilation.w);
  const std::string why = fmt::format("at least 1: the dilated kernel must fit in the padded input ({} {} under {})",
                                      input.tensor.name, shape_text(input.tensor.shape), geometry_text(g));
  check_value(op, s.OH >= 1, "output height", double(s.OH), why.c_str());
  check_value(op, s.OW >= 1, "output width", double(s.OW), why.c_str());
  return s;
}

// The divisor of a size that fits a uint (checked by the caller); a size of 0 is never divided by (there are
// no elements then), so it stands as 1.
FastDivisor divisor_of(int64_t size) { return fast_divisor(static_cast<uint32_t>(std::max<int64_t>(size, 1))); }

// cols' shape for these sizes, and why.
Shape cols_shape(const Sizes& s, const Conv2dGeometry& g) { return {s.positions(), s.C * g.kernel.h * g.kernel.w}; }
std::string cols_why(const Sizes& s, const Conv2dGeometry& g) {
  return fmt::format("one row per output position N·OH·OW = {}·{}·{}, one column per kernel tap C·KH·KW = {}·{}·{}", s.N,
                     s.OH, s.OW, s.C, g.kernel.h, g.kernel.w);
}

WindowParams window_params(uint32_t count, const Sizes& s, const Conv2dGeometry& g, const std::string& op) {
  return WindowParams{count,
                      to_u32(s.C, op + ": channels"),
                      to_u32(s.H, op + ": height"),
                      to_u32(s.W, op + ": width"),
                      to_u32(s.OH, op + ": output height"),
                      to_u32(s.OW, op + ": output width"),
                      to_u32(g.kernel.h, op + ": kernel height"),
                      to_u32(g.kernel.w, op + ": kernel width"),
                      to_u32(g.stride.h, op + ": stride"),
                      to_u32(g.stride.w, op + ": stride"),
                      static_cast<int32_t>(g.padding.h),  // fits: the padded extent does (sizes_of)
                      static_cast<int32_t>(g.padding.w),
                      to_u32(g.dilation.h, op + ": dilation"),
                      to_u32(g.dilation.w, op + ": dilation"),
                      divisor_of(s.OW),
                      divisor_of(s.OH),
                      divisor_of(g.kernel.w),
                      divisor_of(g.kernel.h),
                      divisor_of(s.W),
                      divisor_of(s.H),
                      divisor_of(s.C)};
}

// Kernels of at most this many taps C·KH·KW are computed directly (conv2d_direct.comp), the rest as products.
constexpr int64_t k_direct_taps = 32;

// Whether conv2d_backward computes the weight and bias gradients of a convolution of `taps` taps directly from x
// and dy (conv2d_weight_direct.comp) rather than as the product rows · cols: on a CPU device, for as few taps as
// the direct forward takes. The sample CNN's 1 -> 32 3x3 conv at 16 lanes: im2col, transpose, product and row sums
// took 14-20 ms a step, the direct kernel takes 9-12. Its workgroups are blocks of output channels, a few dozen at
// most: too few for a GPU, which keeps the product.
bool direct_weight_gradient(int64_t taps, const DeviceInfo& device) { return device.is_cpu() && taps <= k_direct_taps; }

// Each weight (OC, C, KH, KW) as the matrix (OC, C·KH·KW) the products take.
Tensor filter_matrix(const Tensor& weight) {
  return reshaped(weight, {weight.dim(0), weight.dim(1) * weight.dim(2) * weight.dim(3)});
}

// Push constants of conv2d_direct.comp and conv2d_weight_direct.comp.
struct DirectParams {
  WindowParams window;
  uint32_t out_channels;
};

// dweight (OC, C, KH, KW) and dbias (OC, unless nullptr) from dy (N, OC, OH, OW) and x, by
// conv2d_weight_direct.comp, for at least one position and one output channel.
void record_weight_gradient_direct(Recorder& rec, const Tensor& dweight, const Tensor* dbias, const Tensor& dy,
                                   const Tensor& x, const Sizes& s, const Conv2dGeometry& g) {
  constexpr const char* op = "conv2d_backward";
  const int64_t oc = dweight.dim(0), taps = s.C * g.kernel.h * g.kernel.w;
  // A workgroup keeps OC_BLOCK · (taps + 1) sums in registers: a power of two of output channels, at most 4 and
  // at most about 48 sums (9 taps: 4 channels at once; 27: 1). The 1 -> 32 3x3 conv at 16 lanes: 9.6 ms with 1
  // channel a workgroup, 8.7 with 4, 11.9 with 8; blocks that leave a partial last one were slower (6: 28 ms).
  // The workgroup is at least the taps + 1 sums one channel's tree ends in (k_direct_taps + 1 = 33 <= 64).
  const uint64_t fitting = static_cast<uint64_t>(std::clamp<int64_t>(48 / (taps + 1), 1, 4));
  const auto block = static_cast<uint32_t>(std::bit_floor(fitting));
  constexpr uint32_t workgroup = 64;
  // Quads of positions along ow where no quad straddles a row of dy or of x: the sample CNN's 1 -> 32 conv,
  // 8.6-16.4 -> 3.7-6.4 ms at 4, 8 and 16 lanes (bench_conv, old and new binaries alternating).
  const bool quads = g.stride.w == 1 && s.OW % 4 == 0 && s.W % 4 == 0;
  Context& ctx = rec.context();
  const DirectParams params{window_params(to_u32(s.positions(), "conv2d_backward: N·OH·OW"), s, g, op),
                            to_u32(oc, "conv2d_backward: out_channels")};
  const Kernel& kernel = ctx.kernel(
      "conv2d_weight_direct",
      std::vector<uint32_t>{workgroup, static_cast<uint32_t>(s.C), static_cast<uint32_t>(g.kernel.h),
                            static_cast<uint32_t>(g.kernel.w), dbias != nullptr ? 1u : 0u, block, quads ? 1u : 0u,
                            quads ? static_cast<uint32_t>(g.padding.w) : 0u,
                            quads ? static_cast<uint32_t>(g.dilation.w) : 1u});
  rec.dispatch(kernel,
               {x.slice, dy.slice, dweight.slice, dbias != nullptr ? dbias->slice : dweight.slice,
                quad_binding(ctx, x.slice), quad_binding(ctx, dy.slice)},
               params, groups_1d((oc + block - 1) / block, 1, ctx.info()),
               fmt::format("conv2d weight gradient direct {}x{}x{} -> {}{}", s.C, g.kernel.h, g.kernel.w, oc,
                           quads ? " (quads)" : ""));
}

}  // namespace

void check_conv2d_geometry(const char* op, const Conv2dGeometry& g) {
  check_value(op, g.kernel.h >= 1, "kernel height", double(g.kernel.h), ">= 1");
  check_value(op, g.kernel.w >= 1, "kernel width", double(g.kernel.w), ">= 1");
  check_value(op, g.stride.h >= 1, "stride height", double(g.stride.h), ">= 1");
  check_value(op, g.stride.w >= 1, "stride width", double(g.stride.w), ">= 1");
  check_value(op, g.padding.h >= 0, "padding height", double(g.padding.h), ">= 0");
  check_value(op, g.padding.w >= 0, "padding width", double(g.padding.w), ">= 0");
  check_value(op, g.dilation.h >= 1, "dilation height", double(g.dilation.h), ">= 1");
  check_value(op, g.dilation.w >= 1, "dilation width", double(g.dilation.w), ">= 1");
}

void im2col(Recorder& rec, const Tensor& cols, const Tensor& x, const Conv2dGeometry& g) {
  constexpr const char* op = "im2col";
  const Sizes s = sizes_of(op, {"x", x}, g);
  check_tensor(op, {"cols", cols}, cols_shape(s, g), DType::f32, cols_why(s, g));
  check_disjoint(op, {{"cols", cols}, {"x", x}});
  to_u32(cols.numel(), "im2col: cols");
  to_u32(x.numel(), "im2col: x");
  // One item per output position when its row of taps is whole quads, else per (output position, channel); see
  // im2col.comp.
  const int64_t taps = s.C * g.kernel.h * g.kernel.w;
  const uint32_t items = static_cast<uint32_t>(taps % 4 == 0 ? s.positions() : s.positions() * s.C);
  if (items == 0) return;
  Context& ctx = rec.context();
  // A small kernel over channels in quads: its taps unrolled (im2col.comp, FIXED). Up to 5 x 5: each size is a
  // pipeline, and 4·KH·KW values an iteration.
  const bool fixed = s.C % 4 == 0 && g.kernel.h * g.kernel.w <= 25;
  const std::vector<uint32_t> spec = {elementwise_workgroup(ctx.info()), fixed ? 1u : 0u,
                                      fixed ? uint32_t(g.kernel.h) : 3u, fixed ? uint32_t(g.kernel.w) : 3u};
  rec.dispatch(ctx.kernel("im2col", spec),
               {x.slice, cols.slice, quad_binding(ctx, cols.slice)}, window_params(items, s, g, op),
               elementwise_groups(items, ctx.info()),
               fmt::format("im2col {}x{} stride {}x{}", g.kernel.h, g.kernel.w, g.stride.h, g.stride.w));
}

void col2im(Recorder& rec, const Tensor& dx, const Tensor& dcols, const Conv2dGeometry& g, ColsLayout layout) {
  constexpr const char* op = "col2im";
  const Sizes s = sizes_of(op, {"dx", dx}, g);
  const bool tap_major = layout == ColsLayout::TapMajor;
  Shape shape = cols_shape(s, g);
  if (tap_major) std::swap(shape[0], shape[1]);
  check_tensor(op, {"dcols", dcols}, shape, DType::f32,
               tap_major ? fmt::format("im2col's columns transposed: {}", cols_why(s, g)) : cols_why(s, g));
  check_disjoint(op, {{"dx", dx}, {"dcols", dcols}});
  const uint32_t count = to_u32(dx.numel(), "col2im: dx");
  to_u32(dcols.numel(), "col2im: dcols");
  if (count == 0) return;
  Context& ctx = rec.context();
  // Stride 1 and a small kernel: its taps unrolled (col2im.comp, FIXED); each size is a pipeline.
  const bool fixed = g.stride.h == 1 && g.stride.w == 1 && g.kernel.h * g.kernel.w <= 25;
  const Kernel& kernel = ctx.kernel("col2im", std::vector<uint32_t>{elementwise_workgroup(ctx.info()), tap_major ? 1u : 0u,
                                                                     fixed ? 1u : 0u, fixed ? uint32_t(g.kernel.h) : 3u,
                                                                     fixed ? uint32_t(g.kernel.w) : 3u});
  rec.dispatch(kernel, {dcols.slice, dx.slice}, window_params(count, s, g, op), elementwise_groups(count, ctx.info()),
               fmt::format("col2im {}x{} stride {}x{}{}", g.kernel.h, g.kernel.w, g.stride.h, g.stride.w,
                           tap_major ? ", tap-major" : ""));
}

void block_transpose(Recorder& rec, const Tensor& out, const Tensor& in, const Tensor* bias) {
  constexpr const char* op = "block_transpose";
  check_rank(op, {"in", in}, {3}, "(A, B, E)");
  check_dtype(op, {"in", in}, DType::f32);
  check_tensor(op, {"out", out}, {in.dim(1), in.dim(0), in.dim(2)}, DType::f32,
               fmt::format("(B, A, E) for in {}", shape_text(in.shape)));
  const Tensor none;  // overlaps nothing
  if (bias != nullptr) check_tensor(op, {"bias", *bias}, {in.dim(0)}, DType::f32, "one per A of in");
  check_disjoint(op, {{"out", out}, {"in", in}, {"bias", bias ? *bias : none}});
  const uint32_t count = to_u32(in.numel(), "block_transpose: in");
  if (count == 0) return;
  const auto a = static_cast<uint32_t>(in.dim(0)), b = static_cast<uint32_t>(in.dim(1)),
             e = static_cast<uint32_t>(in.dim(2));
  const BlockTransposeParams params{count, a, b, e, divisor_of(a), divisor_of(e)};
  Context& ctx = rec.context();
  const BufferSlice bias_slice = bias != nullptr ? bias->slice : in.slice;  // unread without a bias
  const std::string label = fmt::format("transpose ({}x{})x{}{}", in.dim(0), in.dim(1), in.dim(2), bias ? " + bias" : "");
  if (e % 4 == 0) {
    // Blocks of whole quads: the loop-free quad-set kernel (block_transpose_quads.glsl).
    const std::array<uint32_t, 3> flags = quad_set_flags(count, ctx.info());
    const std::vector<uint32_t> spec = {quad_set_constants(count, ctx.info())[0], bias != nullptr ? 1u : 0u, flags[0],
                                        flags[1], flags[2]};
    rec.dispatch(ctx.kernel(quad_set_kernel("block_transpose_quads", ctx.info()), spec),
                 {in.slice, out.slice, out.slice, bias_slice}, params, quad_set_groups(count, ctx.info()), label);
    return;
  }
  const Kernel& kernel = ctx.kernel(
      "block_transpose", std::vector<uint32_t>{elementwise_workgroup(ctx.info()), bias != nullptr ? 1u : 0u});
  rec.dispatch(kernel, {in.slice, out.slice, quad_binding(ctx, in.slice), quad_binding(ctx, out.slice), bias_slice},
               params, quad_groups(quads_of(count), ctx.info()), label);
}

void row_sum(Recorder& rec, const Tensor& sums, const Tensor& m) {
  constexpr const char* op = "row_sum";
  check_rank(op, {"m", m}, {2}, "(R, L)");
  check_dtype(op, {"m", m}, DType::f32);
  check_tensor(op, {"sums", sums}, {m.dim(0)}, DType::f32, fmt::format("one per row of m {}", shape_text(m.shape)));
  check_disjoint(op, {{"sums", sums}, {"m", m}});
  if (m.dim(0) == 0) return;
  to_u32(m.numel(), "row_sum: m");
  if (m.dim(1) == 0) {  // empty rows sum to 0
    rec.fill(sums.slice, 0);
    return;
  }
  Context& ctx = rec.context();
  const RowSumParams params{static_cast<uint32_t>(m.dim(0)), static_cast<uint32_t>(m.dim(1))};
  rec.dispatch(ctx.kernel("row_sum", std::vector<uint32_t>{row_workgroup(m.dim(1), ctx.info())}),
               {m.slice, sums.slice, quad_binding(ctx, m.slice)}, params, groups_1d(m.dim(0), 1, ctx.info()),
               fmt::format("row sums {}x{}", m.dim(0), m.dim(1)));
}

void conv2d_forward(Recorder& rec, const Tensor& y, const Tensor& cols, const Tensor& rows, const Tensor& x,
                    const Tensor& weight, const Tensor* bias, const Conv2dGeometry& g, const Tensor* partials) {
  constexpr const char* op = "conv2d_forward";
  const Sizes s = sizes_of(op, {"x", x}, g);
  check_value(op, s.C >= 1, "input channels", double(s.C), ">= 1, as torch.nn.Conv2d's in_channels");
  check_rank(op, {"weight", weight}, {4}, "(out_channels, in_channels, KH, KW)");
  const int64_t oc = weight.dim(0);
  check_tensor(op, {"weight", weight}, {oc, s.C, g.kernel.h, g.kernel.w}, DType::f32,
               fmt::format("(out_channels, in_channels = C of x {}, the kernel {}x{})", shape_text(x.shape), g.kernel.h,
                           g.kernel.w));
  const Tensor none;  // overlaps nothing
  if (bias != nullptr) check_tensor(op, {"bias", *bias}, {oc}, DType::f32, "one per output channel of weight");
  check_tensor(op, {"y", y}, {s.N, oc, s.OH, s.OW}, DType::f32,
               fmt::format("(N, out_channels, OH, OW) for x {} under {}", shape_text(x.shape), geometry_text(g)));
  check_tensor(op, {"cols", cols}, cols_shape(s, g), DType::f32, cols_why(s, g));
  check_tensor(op, {"rows", rows}, {oc, s.positions()}, DType::f32, "one row per output channel, one column per output position");
  check_disjoint(op, {{"y", y}, {"cols", cols}, {"rows", rows}, {"x", x}, {"weight", weight}, {"bias", bias ? *bias : none}});

  const int64_t taps = s.C * g.kernel.h * g.kernel.w;
  // cols is the weight gradient's operand, whichever way y is computed, unless that gradient is direct too.
  if (!direct_weight_gradient(taps, rec.context().info())) im2col(rec, cols, x, g);
  if (taps <= k_direct_taps) {
    // Few taps (a first layer): y directly, the product's K too short to pay for writing and reading rows.
    // Output positions an item: as many as share the weights an item loads, in whole quads of one sample; 16
    // only for up to 16 taps, so that an item's taps stay a few hundred values.
    const int64_t plane = s.OH * s.OW;
    const uint32_t positions = plane % 16 == 0 && taps <= 16 ? 16u : (plane % 4 == 0 ? 4u : 1u);
    const auto items = static_cast<uint32_t>(s.positions() / positions);
    if (items == 0 || oc == 0) return;
    Context& ctx = rec.context();
    const DirectParams params{window_params(items, s, g, op), to_u32(oc, "conv2d_forward: out_channels")};
    const Kernel& kernel = ctx.kernel("conv2d_direct", std::vector<uint32_t>{elementwise_workgroup(ctx.info()),
                                                                            static_cast<uint32_t>(s.C),
                                                                            static_cast<uint32_t>(g.kernel.h),
                                                                            static_cast<uint32_t>(g.kernel.w),
                                                                            bias != nullptr ? 1u : 0u, positions});
    rec.dispatch(kernel,
                 {x.slice, weight.slice, bias != nullptr ? bias->slice : weight.slice, y.slice,
                  quad_binding(ctx, y.slice)},
                 params, elementwise_groups(items, ctx.info()),
                 fmt::format("conv2d direct {}x{}x{} -> {}", s.C, g.kernel.h, g.kernel.w, oc));
    return;
  }
  ops::matmul(rec, rows, filter_matrix(weight), cols, /*trans_a=*/false, /*trans_b=*/true, nullptr, partials);
  // rows is (OC, N, OH·OW) channel-major; y (N, OC, OH·OW) wants each sample's channels together.
  block_transpose(rec, reshaped(y, {s.N, oc, s.OH * s.OW}), reshaped(rows, {oc, s.N, s.OH * s.OW}), bias);
}

void conv2d_backward(Recorder& rec, const Tensor* dx, const Tensor& dweight, const Tensor* dbias, const Tensor& dcols,
                     const Tensor& rows, const Tensor& dy, const Tensor& x, const Tensor& cols, const Tensor& weight,
                     const Conv2dGeometry& g, const Tensor* partials) {
  constexpr const char* op = "conv2d_backward";
  check_rank(op, {"weight", weight}, {4}, "(out_channels, in_channels, KH, KW)");
  check_dtype(op, {"x", x}, DType::f32);
  // x gives the input's size, and with it the output's: dy and dx must have them.
  const Sizes s = sizes_of(op, {"x", x}, g);
  check_value(op, s.C >= 1, "input channels", double(s.C), ">= 1, as torch.nn.Conv2d's in_channels");
  const int64_t oc = weight.dim(0), c = weight.dim(1), n = s.N;
  check_tensor(op, {"weight", weight}, {oc, c, g.kernel.h, g.kernel.w}, DType::f32,
               fmt::format("(out_channels, in_channels, the kernel {}x{})", g.kernel.h, g.kernel.w));
  check_shape(op, {"x", x}, {n, c, s.H, s.W}, fmt::format("in_channels of weight {}", shape_text(weight.shape)));
  check_tensor(op, {"dy", dy}, {n, oc, s.OH, s.OW}, DType::f32,
               fmt::format("(N, out_channels, OH, OW) for x {} under {}", shape_text(x.shape), geometry_text(g)));
  if (dx != nullptr) check_tensor(op, {"dx", *dx}, x.shape, DType::f32, "as x");
  check_tensor(op, {"dweight", dweight}, weight.shape, DType::f32, "as weight");
  const Tensor none;  // overlaps nothing
  if (dbias != nullptr) check_tensor(op, {"dbias", *dbias}, {oc}, DType::f32, "one per output channel of weight");
  check_tensor(op, {"cols", cols}, cols_shape(s, g), DType::f32, cols_why(s, g) + ", as conv2d_forward wrote it");
  check_tensor(op, {"dcols", dcols}, cols_shape(s, g), DType::f32, "as cols");
  check_tensor(op, {"rows", rows}, {oc, s.positions()}, DType::f32, "one row per output channel, one column per output position");
  const Tensor& dx_or_none = dx ? *dx : none;
  const Tensor& dbias_or_none = dbias ? *dbias : none;
  check_disjoint(op, {{"dweight", dweight}, {"dx", dx_or_none}, {"dbias", dbias_or_none}, {"rows", rows}, {"dy", dy},
                      {"weight", weight}, {"cols", cols}, {"x", x}});
  check_disjoint(op, {{"dcols", dcols}, {"dweight", dweight}, {"dx", dx_or_none}, {"dbias", dbias_or_none},
                      {"rows", rows}, {"dy", dy}, {"weight", weight}, {"x", x}});
  check_in_place_or_disjoint(op, {"dcols", dcols}, {"cols", cols});

  Context& ctx = rec.context();
  const int64_t taps = c * g.kernel.h * g.kernel.w;
  const bool direct = direct_weight_gradient(taps, ctx.info());
  if (direct && oc > 0) {
    if (s.positions() == 0) {  // an empty batch: no position moves the parameters
      rec.fill(dweight.slice, 0u);
      if (dbias != nullptr) rec.fill(dbias->slice, 0u);
    } else {
      record_weight_gradient_direct(rec, dweight, dbias, dy, x, s, g);
    }
  }
  if (direct && dx == nullptr) return;
  // dy in the products' layout: (N, OC, OH·OW) -> (OC, N, OH·OW), i.e. rows (OC, P).
  block_transpose(rec, reshaped(rows, {oc, n, s.OH * s.OW}), reshaped(dy, {n, oc, s.OH * s.OW}), nullptr);
  if (!direct) {
    // dW (OC, C·KH·KW) = rows (OC, P) · cols (P, C·KH·KW): before dcols may overwrite cols.
    ops::matmul(rec, filter_matrix(dweight), rows, cols, /*trans_a=*/false, /*trans_b=*/false, nullptr, partials);
    if (dbias != nullptr) row_sum(rec, *dbias, rows);
  }
  if (dx == nullptr) return;
  // dcolsᵀ (C·KH·KW, P) = Wᵀ (C·KH·KW, OC) · rows (OC, P), then each input element gathers its taps. Tap-major,
  // neighbouring input elements read neighbouring addresses (position-major, addresses C·KH·KW floats apart);
  // each entry is the same sum over OC in the same order either way.
  const Tensor dcols_t = reshaped(dcols, {dcols.dim(1), dcols.dim(0)});
  ops::matmul(rec, dcols_t, filter_matrix(weight), rows, /*trans_a=*/true, /*trans_b=*/false, nullptr, partials);
  col2im(rec, *dx, dcols_t, g, ColsLayout::TapMajor);
}

int64_t conv2d_partials_elements(int64_t positions, int64_t taps, int64_t out_channels) {
  return std::max({matmul_partials_elements(out_channels, positions, taps),   // rows = W · colsᵀ
                   matmul_partials_elements(out_channels, taps, positions),   // dW = rows · cols
                   matmul_partials_elements(positions, taps, out_channels)});  // dcols = rowsᵀ · W
}

}  // namespace vkdrop::ops

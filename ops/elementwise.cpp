#include "ops/elementwise.hpp"

#include "ops/launch.hpp"
#include "runtime/context.hpp"
#include "runtime/error.hpp"
#include "runtime/kernel.hpp"

#include <fmt/format.h>

#include <array>
#include <vector>

namespace vkdrop::ops {

namespace {

// f32, and the same shape as `like`; names both tensors and shapes otherwise.
void expect_f32_like(const char* op, const char* name, const Tensor& t, const char* like_name, const Tensor& like) {
  if (t.dtype != DType::f32) {
    throw ArgumentError(fmt::format("{}: {} ({}) is {}, expected f32", op, name, t.name, dtype_name(t.dtype)));
  }
  if (t.shape != like.shape) {
    throw ShapeError(fmt::format("{}: {} {} and {} {} must have the same shape", op, name, shape_text(t.shape),
                                 like_name, shape_text(like.shape)));
  }
}

// An element-wise output may be its input (in place) or separate memory, never a partial overlap: an
// invocation would then read an element another one has already written.
void expect_same_or_disjoint(const char* op, const char* out_name, const Tensor& out, const char* in_name,
                             const Tensor& in) {
  const bool same = out.slice.buffer == in.slice.buffer && out.slice.offset == in.slice.offset;
  if (!same && out.slice.overlaps(in.slice)) {
    throw ArgumentError(fmt::format("{}: {} and {} partially overlap; pass the same tensor for an in-place op or "
                                    "separate ones",
                                    op, out_name, in_name));
  }
}

std::vector<uint32_t> workgroup(const DeviceInfo& device) { return {elementwise_workgroup(device)}; }

// bias_backward's workgroup (COLS, ROWS), see bias_backward.comp. A GPU wants 256 invocations, with rows
// split 8 ways so that even few columns keep warps busy. lavapipe runs a workgroup's invocations as SIMD
// lanes on one core: one invocation per column and no barriers is fastest there (128 x 1024: 0.27 ms,
// against 0.76 ms with 8 x 8). Below 16 columns (a classifier's bias) both are equally fast (1024 x 10:
// 0.04 ms), and splitting rows there keeps the GPU's shared-memory path under test on lavapipe.
std::array<uint32_t, 2> bias_workgroup(const DeviceInfo& device, int64_t cols) {
  if (!device.is_cpu()) return {32, 8};
  if (cols < 16) return {8, 8};
  return {32, 1};
}

}  // namespace

void relu_forward(Recorder& rec, const Tensor& y, const Tensor& x) {
  expect_f32_like("relu_forward", "x", x, "y", y);
  expect_f32_like("relu_forward", "y", y, "x", x);
  expect_same_or_disjoint("relu_forward", "y", y, "x", x);
  Context& ctx = rec.context();
  const uint32_t n = to_u32(x.numel(), "relu_forward: x");
  const Kernel& kernel = ctx.kernel("relu_forward", workgroup(ctx.info()));
  rec.dispatch(kernel, {x.slice, y.slice}, n, elementwise_groups(n, ctx.info()),
               "relu forward");
}

void relu_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& y) {
  expect_f32_like("relu_backward", "dy", dy, "y", y);
  expect_f32_like("relu_backward", "dx", dx, "y", y);
  expect_f32_like("relu_backward", "y", y, "dy", dy);
  expect_same_or_disjoint("relu_backward", "dx", dx, "dy", dy);
  expect_same_or_disjoint("relu_backward", "dx", dx, "y", y);
  Context& ctx = rec.context();
  const uint32_t n = to_u32(y.numel(), "relu_backward: y");
  const Kernel& kernel = ctx.kernel("relu_backward", workgroup(ctx.info()));
  rec.dispatch(kernel, {dy.slice, y.slice, dx.slice}, n, elementwise_groups(n, ctx.info()),
               "relu backward");
}

void bias_backward(Recorder& rec, const Tensor& db, const Tensor& dy) {
  if (dy.rank() != 2) {
    throw ShapeError(fmt::format("bias_backward: dy must be (M, N), got {}", shape_text(dy.shape)));
  }
  if (dy.dtype != DType::f32 || db.dtype != DType::f32) {
    throw ArgumentError(fmt::format("bias_backward: dy is {} and db is {}, expected f32", dtype_name(dy.dtype),
                                    dtype_name(db.dtype)));
  }
  const int64_t rows = dy.dim(0), cols = dy.dim(1);
  if (db.shape != Shape{cols}) {
    throw ShapeError(fmt::format("bias_backward: dy {} needs db ({},), got db {}", shape_text(dy.shape), cols,
                                 shape_text(db.shape)));
  }
  if (db.slice.overlaps(dy.slice)) throw ArgumentError("bias_backward: db overlaps dy");
  if (cols == 0) return;
  to_u32(dy.numel(), "bias_backward: dy");
  struct Params {
    uint32_t rows, cols;
  } params{static_cast<uint32_t>(rows), static_cast<uint32_t>(cols)};
  Context& ctx = rec.context();
  const auto [group_cols, group_rows] = bias_workgroup(ctx.info(), cols);
  const Kernel& kernel = ctx.kernel("bias_backward", std::vector<uint32_t>{group_cols, group_rows});
  // M = 0: db is an empty sum, 0, and dy has no memory to bind.
  if (rows == 0) {
    rec.fill(db.slice, 0);
    return;
  }
  rec.dispatch(kernel, {dy.slice, db.slice}, params, groups_1d(cols, group_cols, ctx.info()), "bias backward");
}

}  // namespace vkdrop::ops

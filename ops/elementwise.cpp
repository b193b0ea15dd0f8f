#include <vkdrop/ops/elementwise.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/kernel.hpp>

#include <fmt/format.h>

#include <array>
#include <vector>

namespace vkdrop::ops {

namespace {

std::vector<uint32_t> workgroup(const DeviceInfo& device) { return {elementwise_workgroup(device)}; }

// out and in: f32, the same shape, and in place or disjoint.
void check_elementwise(const char* op, Arg out, Arg in) {
  check_dtype(op, out, DType::f32);
  check_dtype(op, in, DType::f32);
  check_same_shape(op, out, in);
  check_in_place_or_disjoint(op, out, in);
}

}  // namespace

void relu_forward(Recorder& rec, const Tensor& y, const Tensor& x) {
  check_elementwise("relu_forward", {"y", y}, {"x", x});
  Context& ctx = rec.context();
  const uint32_t n = to_u32(x.numel(), "relu_forward: x");
  const Kernel& kernel = ctx.kernel("relu_forward", workgroup(ctx.info()));
  rec.dispatch(kernel, {x.slice, y.slice}, n, elementwise_groups(n, ctx.info()),
               "relu forward");
}

void relu_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& y) {
  check_elementwise("relu_backward", {"dx", dx}, {"dy", dy});
  check_elementwise("relu_backward", {"dx", dx}, {"y", y});
  Context& ctx = rec.context();
  const uint32_t n = to_u32(y.numel(), "relu_backward: y");
  const Kernel& kernel = ctx.kernel("relu_backward", workgroup(ctx.info()));
  rec.dispatch(kernel, {dy.slice, y.slice, dx.slice}, n, elementwise_groups(n, ctx.info()),
               "relu backward");
}

void bias_backward(Recorder& rec, const Tensor& db, const Tensor& dy) {
  constexpr const char* op = "bias_backward";
  check_rank(op, {"dy", dy}, {2}, "(M, N)");
  check_dtype(op, {"dy", dy}, DType::f32);
  const int64_t rows = dy.dim(0), cols = dy.dim(1);
  check_tensor(op, {"db", db}, {cols}, DType::f32, fmt::format("one value per column of dy {}", shape_text(dy.shape)));
  check_disjoint(op, {{"db", db}, {"dy", dy}});
  if (cols == 0) return;
  to_u32(dy.numel(), "bias_backward: dy");
  struct Params {
    uint32_t rows, cols;
  } params{static_cast<uint32_t>(rows), static_cast<uint32_t>(cols)};
  Context& ctx = rec.context();
  const auto [group_cols, group_rows] = bias_backward_workgroup(ctx.info(), cols);
  const Kernel& kernel = ctx.kernel("bias_backward", std::vector<uint32_t>{group_cols, group_rows});
  // M = 0: db is an empty sum, 0, and dy has no memory to bind.
  if (rows == 0) {
    rec.fill(db.slice, 0);
    return;
  }
  rec.dispatch(kernel, {dy.slice, db.slice}, params, groups_1d(cols, group_cols, ctx.info()), "bias backward");
}

}  // namespace vkdrop::ops

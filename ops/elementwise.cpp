#include <vkdrop/ops/elementwise.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/quads.hpp>
#include <vkdrop/ops/split_sum.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/kernel.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <vector>

namespace vkdrop::ops {

namespace {

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
  const Kernel& kernel = ctx.kernel(quad_set_kernel("relu_forward", ctx.info()), quad_set_constants(n, ctx.info()));
  rec.dispatch(kernel, {x.slice, y.slice, quad_binding(ctx, x.slice), quad_binding(ctx, y.slice)}, n,
               quad_set_groups(n, ctx.info()), "relu forward");
}

void relu_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& y, float scale,
                   const char* label) {
  check_elementwise("relu_backward", {"dx", dx}, {"dy", dy});
  check_elementwise("relu_backward", {"dx", dx}, {"y", y});
  Context& ctx = rec.context();
  const struct {
    uint32_t n;
    float scale;
  } params{to_u32(y.numel(), "relu_backward: y"), scale};
  const Kernel& kernel =
      ctx.kernel(quad_set_kernel("relu_backward", ctx.info()), quad_set_constants(params.n, ctx.info()));
  rec.dispatch(kernel,
               {dy.slice, y.slice, dx.slice, quad_binding(ctx, dy.slice), quad_binding(ctx, y.slice),
                quad_binding(ctx, dx.slice)},
               params, quad_set_groups(params.n, ctx.info()), label);
}

uint32_t bias_backward_max_split(int64_t rows, int64_t cols) {
  const int64_t columns = std::max<int64_t>(1, cols);
  const int64_t slices = std::min<int64_t>({64, rows / 1024, ((int64_t{1} << 19) + columns - 1) / columns});
  return slices >= 2 ? static_cast<uint32_t>(slices) : 1;
}

int64_t bias_backward_partials_elements(int64_t rows, int64_t cols) {
  const uint32_t slices = bias_backward_max_split(rows, cols);
  return slices < 2 ? 0 : static_cast<int64_t>(slices * split_slice_stride(cols));
}

void bias_backward(Recorder& rec, const Tensor& db, const Tensor& dy, const Tensor* partials) {
  constexpr const char* op = "bias_backward";
  check_rank(op, {"dy", dy}, {2}, "(M, N)");
  check_dtype(op, {"dy", dy}, DType::f32);
  const int64_t rows = dy.dim(0), cols = dy.dim(1);
  check_tensor(op, {"db", db}, {cols}, DType::f32, fmt::format("one value per column of dy {}", shape_text(dy.shape)));
  check_disjoint(op, {{"db", db}, {"dy", dy}});
  if (partials != nullptr) {
    check_dtype(op, {"partials", *partials}, DType::f32);
    const int64_t needed = bias_backward_partials_elements(rows, cols);
    if (partials->numel() < needed) {
      throw ShapeError(fmt::format("bias_backward: {} {} has {} elements; dy {} may split its rows into {} slices and "
                                   "needs {} (ops::bias_backward_partials_elements)",
                                   partials->name, shape_text(partials->shape), partials->numel(), shape_text(dy.shape),
                                   bias_backward_max_split(rows, cols), needed));
    }
    check_disjoint(op, {{"partials", *partials}, {"db", db}, {"dy", dy}});
  }
  if (cols == 0) return;
  to_u32(dy.numel(), "bias_backward: dy");
  struct Params {
    uint32_t rows, cols, row_chunk, out_stride;
  } params{static_cast<uint32_t>(rows), static_cast<uint32_t>(cols), static_cast<uint32_t>(rows), 0};
  Context& ctx = rec.context();
  const DeviceInfo& device = ctx.info();
  const auto [group_cols, group_rows] = bias_backward_workgroup(device, cols);
  const Kernel& kernel = ctx.kernel("bias_backward", std::vector<uint32_t>{group_cols, group_rows});
  // M = 0: db is an empty sum, 0, and dy has no memory to bind.
  if (rows == 0) {
    rec.fill(db.slice, 0);
    return;
  }
  std::array<uint32_t, 3> groups = groups_1d(cols, group_cols, device);
  // Split the rows when the column blocks leave the device idle (split_target_workgroups), as matmul splits K.
  uint32_t slices = 1;
  if (partials != nullptr) {
    const uint64_t wanted = split_target_workgroups(device);
    const uint32_t most = bias_backward_max_split(rows, cols);
    if (most > 1 && groups[0] < wanted) {
      slices = static_cast<uint32_t>(std::min<uint64_t>(most, (wanted + groups[0] - 1) / groups[0]));
    }
  }
  if (slices < 2) {
    rec.dispatch(kernel, {dy.slice, db.slice}, params, groups, "bias backward");
    return;
  }
  params.row_chunk = static_cast<uint32_t>((rows + slices - 1) / slices);
  slices = static_cast<uint32_t>((rows + params.row_chunk - 1) / params.row_chunk);
  const uint64_t stride = split_slice_stride(cols);
  params.out_stride = static_cast<uint32_t>(stride);
  const BufferSlice used = partials->slice.sub(0, slices * stride * sizeof(float));
  groups[1] = slices;
  rec.dispatch(kernel, {dy.slice, used}, params, groups, fmt::format("bias backward, rows split {} ways", slices));
  sum_slices(rec, db, used, slices, stride, nullptr, fmt::format("bias backward: sum of {} slices", slices));
}

}  // namespace vkdrop::ops

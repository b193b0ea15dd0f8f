#include <vkdrop/ops/tanh.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/kernel.hpp>

#include <vector>

namespace vkdrop::ops {

namespace {

// tanh.comp's constant_id 1: which pass the pipeline runs.
constexpr uint32_t k_forward = 0, k_backward = 1;

const Kernel& tanh_kernel(Context& ctx, uint32_t pass) {
  return ctx.kernel("tanh", std::vector<uint32_t>{elementwise_workgroup(ctx.info()), pass});
}

}  // namespace

void tanh_forward(Recorder& rec, const Tensor& y, const Tensor& x) {
  constexpr const char* op = "tanh_forward";
  check_dtype(op, {"y", y}, DType::f32);
  check_dtype(op, {"x", x}, DType::f32);
  check_same_shape(op, {"y", y}, {"x", x});
  check_in_place_or_disjoint(op, {"y", y}, {"x", x});
  const uint32_t n = to_u32(x.numel(), "tanh_forward: x");
  if (n == 0) return;
  Context& ctx = rec.context();
  // The forward pass does not read binding 1 (dy); x stands in for it.
  rec.dispatch(tanh_kernel(ctx, k_forward), {x.slice, x.slice, y.slice}, n, elementwise_groups(n, ctx.info()),
               "tanh forward");
}

void tanh_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& y) {
  constexpr const char* op = "tanh_backward";
  check_dtype(op, {"dx", dx}, DType::f32);
  check_dtype(op, {"dy", dy}, DType::f32);
  check_dtype(op, {"y", y}, DType::f32);
  check_same_shape(op, {"dx", dx}, {"dy", dy});
  check_same_shape(op, {"dx", dx}, {"y", y});
  check_in_place_or_disjoint(op, {"dx", dx}, {"dy", dy});
  check_in_place_or_disjoint(op, {"dx", dx}, {"y", y});
  const uint32_t n = to_u32(y.numel(), "tanh_backward: y");
  if (n == 0) return;
  Context& ctx = rec.context();
  rec.dispatch(tanh_kernel(ctx, k_backward), {y.slice, dy.slice, dx.slice}, n, elementwise_groups(n, ctx.info()),
               "tanh backward");
}

}  // namespace vkdrop::ops

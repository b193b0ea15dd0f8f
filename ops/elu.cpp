#include <vkdrop/ops/elu.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/kernel.hpp>

#include <cmath>
#include <vector>

namespace vkdrop::ops {

namespace {

// elu.comp's constant_id 1: which pass the pipeline runs.
constexpr uint32_t k_forward = 0, k_backward = 1;

// elu.comp's push constants.
struct Params {
  uint32_t n;
  float alpha;
};

const Kernel& elu_kernel(Context& ctx, uint32_t pass) {
  return ctx.kernel("elu", std::vector<uint32_t>{elementwise_workgroup(ctx.info()), pass});
}

}  // namespace

void elu_forward(Recorder& rec, const Tensor& y, const Tensor& x, float alpha) {
  constexpr const char* op = "elu_forward";
  check_dtype(op, {"y", y}, DType::f32);
  check_dtype(op, {"x", x}, DType::f32);
  check_same_shape(op, {"y", y}, {"x", x});
  check_in_place_or_disjoint(op, {"y", y}, {"x", x});
  check_value(op, std::isfinite(alpha), "alpha", alpha, "a finite number");
  const uint32_t n = to_u32(x.numel(), "elu_forward: x");
  if (n == 0) return;
  Context& ctx = rec.context();
  // The forward pass does not read binding 1 (dy); x stands in for it.
  rec.dispatch(elu_kernel(ctx, k_forward), {x.slice, x.slice, y.slice}, Params{n, alpha},
               elementwise_groups(n, ctx.info()), "elu forward");
}

void elu_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& x, float alpha) {
  constexpr const char* op = "elu_backward";
  check_dtype(op, {"dx", dx}, DType::f32);
  check_dtype(op, {"dy", dy}, DType::f32);
  check_dtype(op, {"x", x}, DType::f32);
  check_same_shape(op, {"dx", dx}, {"dy", dy});
  check_same_shape(op, {"dx", dx}, {"x", x});
  check_in_place_or_disjoint(op, {"dx", dx}, {"dy", dy});
  check_in_place_or_disjoint(op, {"dx", dx}, {"x", x});
  check_value(op, std::isfinite(alpha), "alpha", alpha, "a finite number");
  const uint32_t n = to_u32(x.numel(), "elu_backward: x");
  if (n == 0) return;
  Context& ctx = rec.context();
  rec.dispatch(elu_kernel(ctx, k_backward), {x.slice, dy.slice, dx.slice}, Params{n, alpha},
               elementwise_groups(n, ctx.info()), "elu backward");
}

}  // namespace vkdrop::ops

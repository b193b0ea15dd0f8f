#include <vkdrop/ops/leaky_relu.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/kernel.hpp>

#include <cmath>
#include <vector>

namespace vkdrop::ops {

namespace {

// leaky_relu.comp's constant_id 1: which pass the pipeline runs.
constexpr uint32_t k_forward = 0, k_backward = 1;

// leaky_relu.comp's push constants.
struct Params {
  uint32_t n;
  float negative_slope;
};

const Kernel& leaky_relu_kernel(Context& ctx, uint32_t pass) {
  return ctx.kernel("leaky_relu", std::vector<uint32_t>{elementwise_workgroup(ctx.info()), pass});
}

}  // namespace

void leaky_relu_forward(Recorder& rec, const Tensor& y, const Tensor& x, float negative_slope) {
  constexpr const char* op = "leaky_relu_forward";
  check_dtype(op, {"y", y}, DType::f32);
  check_dtype(op, {"x", x}, DType::f32);
  check_same_shape(op, {"y", y}, {"x", x});
  check_in_place_or_disjoint(op, {"y", y}, {"x", x});
  check_value(op, std::isfinite(negative_slope), "negative_slope", negative_slope, "a finite number");
  const uint32_t n = to_u32(x.numel(), "leaky_relu_forward: x");
  if (n == 0) return;
  Context& ctx = rec.context();
  // The forward pass does not read binding 1 (dy); x stands in for it.
  rec.dispatch(leaky_relu_kernel(ctx, k_forward), {x.slice, x.slice, y.slice}, Params{n, negative_slope},
               elementwise_groups(n, ctx.info()), "leaky_relu forward");
}

void leaky_relu_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& x, float negative_slope) {
  constexpr const char* op = "leaky_relu_backward";
  check_dtype(op, {"dx", dx}, DType::f32);
  check_dtype(op, {"dy", dy}, DType::f32);
  check_dtype(op, {"x", x}, DType::f32);
  check_same_shape(op, {"dx", dx}, {"dy", dy});
  check_same_shape(op, {"dx", dx}, {"x", x});
  check_in_place_or_disjoint(op, {"dx", dx}, {"dy", dy});
  check_in_place_or_disjoint(op, {"dx", dx}, {"x", x});
  check_value(op, std::isfinite(negative_slope), "negative_slope", negative_slope, "a finite number");
  const uint32_t n = to_u32(x.numel(), "leaky_relu_backward: x");
  if (n == 0) return;
  Context& ctx = rec.context();
  rec.dispatch(leaky_relu_kernel(ctx, k_backward), {x.slice, dy.slice, dx.slice}, Params{n, negative_slope},
               elementwise_groups(n, ctx.info()), "leaky_relu backward");
}

}  // namespace vkdrop::ops

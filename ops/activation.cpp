#include <vkdrop/ops/activation.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/kernel.hpp>

#include <fmt/format.h>

#include <cmath>
#include <string>
#include <vector>

namespace vkdrop::ops {

namespace {

constexpr uint32_t k_forward = 0, k_backward = 1;  // constant_id 1

struct ParameterPush {
  uint32_t n;
  float parameter;
};

void check_parameter(const char* op, const Activation& a) {
  if (a.parameter) check_value(op, std::isfinite(*a.parameter), a.parameter_name, *a.parameter, "a finite number");
}

void record(Recorder& rec, const Activation& a, uint32_t pass, const BufferSlice& saved, const BufferSlice& dy,
            const BufferSlice& out, uint32_t n, const std::string& label) {
  if (n == 0) return;
  Context& ctx = rec.context();
  const Kernel& kernel = ctx.kernel(a.shader, std::vector<uint32_t>{elementwise_workgroup(ctx.info()), pass});
  const auto groups = elementwise_groups(n, ctx.info());
  if (a.parameter) {
    rec.dispatch(kernel, {saved, dy, out}, ParameterPush{n, *a.parameter}, groups, label);
  } else {
    rec.dispatch(kernel, {saved, dy, out}, n, groups, label);
  }
}

}  // namespace

void activation_forward(Recorder& rec, const Activation& a, const Tensor& y, const Tensor& x) {
  const std::string op = fmt::format("{}_forward", a.shader);
  check_dtype(op.c_str(), {"y", y}, DType::f32);
  check_dtype(op.c_str(), {"x", x}, DType::f32);
  check_same_shape(op.c_str(), {"y", y}, {"x", x});
  check_in_place_or_disjoint(op.c_str(), {"y", y}, {"x", x});
  check_parameter(op.c_str(), a);
  // The forward pass does not read binding 1 (dy); x stands in for it.
  record(rec, a, k_forward, x.slice, x.slice, y.slice, to_u32(x.numel(), op + ": x"), fmt::format("{} forward", a.shader));
}

void activation_backward(Recorder& rec, const Activation& a, const Tensor& dx, const Tensor& dy, const Tensor& saved,
                         const char* saved_role) {
  const std::string op = fmt::format("{}_backward", a.shader);
  check_dtype(op.c_str(), {"dx", dx}, DType::f32);
  check_dtype(op.c_str(), {"dy", dy}, DType::f32);
  check_dtype(op.c_str(), {saved_role, saved}, DType::f32);
  check_same_shape(op.c_str(), {"dx", dx}, {"dy", dy});
  check_same_shape(op.c_str(), {"dx", dx}, {saved_role, saved});
  check_in_place_or_disjoint(op.c_str(), {"dx", dx}, {"dy", dy});
  check_in_place_or_disjoint(op.c_str(), {"dx", dx}, {saved_role, saved});
  check_parameter(op.c_str(), a);
  record(rec, a, k_backward, saved.slice, dy.slice, dx.slice, to_u32(saved.numel(), op + ": " + saved_role),
         fmt::format("{} backward", a.shader));
}

}  // namespace vkdrop::ops

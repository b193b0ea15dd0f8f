#include <vkdrop/ops/avg_pool2d.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/kernel.hpp>

#include <vector>

namespace vkdrop::ops {

namespace {

constexpr uint32_t k_forward = 0, k_backward = 1;  // avg_pool2d.comp's constant_id 1

void record(Recorder& rec, uint32_t pass, const BufferSlice& in, const BufferSlice& out, const Pool2dPush& push,
            const char* label) {
  if (push.count == 0) return;
  Context& ctx = rec.context();
  rec.dispatch(ctx.kernel("avg_pool2d", std::vector<uint32_t>{elementwise_workgroup(ctx.info()), pass}), {in, out},
               push, elementwise_groups(push.count, ctx.info()), label);
}

}  // namespace

void avg_pool2d_forward(Recorder& rec, const Tensor& y, const Tensor& x, const Pool2dWindow& window) {
  constexpr const char* op = "avg_pool2d_forward";
  check_dtype(op, {"x", x}, DType::f32);
  const Shape out = pool2d_output_shape(op, {"x", x}, window);
  check_tensor(op, {"y", y}, out, DType::f32, "x " + shape_text(x.shape) + " pooled by " + pool2d_window_text(window));
  check_disjoint(op, {{"y", y}, {"x", x}});
  record(rec, k_forward, x.slice, y.slice, pool2d_push(op, y.numel(), x.shape, out, window), "avg_pool2d forward");
}

void avg_pool2d_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Pool2dWindow& window) {
  constexpr const char* op = "avg_pool2d_backward";
  check_dtype(op, {"dx", dx}, DType::f32);
  const Shape out = pool2d_output_shape(op, {"dx", dx}, window);
  check_tensor(op, {"dy", dy}, out, DType::f32, "dx " + shape_text(dx.shape) + " pooled by " + pool2d_window_text(window));
  check_disjoint(op, {{"dx", dx}, {"dy", dy}});
  record(rec, k_backward, dy.slice, dx.slice, pool2d_push(op, dx.numel(), dx.shape, out, window), "avg_pool2d backward");
}

}  // namespace vkdrop::ops

#include <vkdrop/ops/max_pool2d.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/fast_divide.hpp>
#include <vkdrop/ops/quads.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/kernel.hpp>

#include <vector>

namespace vkdrop::ops {

void max_pool2d_forward(Recorder& rec, const Tensor& y, const Tensor& argmax, const Tensor& x,
                        const Pool2dWindow& window) {
  constexpr const char* op = "max_pool2d_forward";
  check_dtype(op, {"x", x}, DType::f32);
  const Shape out = pool2d_output_shape(op, {"x", x}, window);
  const std::string why = "x " + shape_text(x.shape) + " pooled by " + pool2d_window_text(window);
  check_tensor(op, {"y", y}, out, DType::f32, why);
  check_tensor(op, {"argmax", argmax}, out, DType::u32, why);
  check_disjoint(op, {{"y", y}, {"argmax", argmax}, {"x", x}});
  const Pool2dPush push = pool2d_push(op, y.numel(), x.shape, out, window);
  if (push.count == 0) return;
  Context& ctx = rec.context();
  struct ForwardPush {  // max_pool2d_forward.comp's: the divisors first, where their 8-byte alignment holds
    FastDivisor by_ow, by_oh;
    Pool2dPush window;
  } forward_push{fast_divisor(push.OW), fast_divisor(push.OH), push};
  // A small window: unrolled (max_pool2d_forward.comp, FIXED); each size is a pipeline.
  const bool fixed = push.kernel_h * push.kernel_w <= 25;
  const std::vector<uint32_t> spec = {elementwise_workgroup(ctx.info()), fixed ? 1u : 0u, fixed ? push.kernel_h : 2u,
                                      fixed ? push.kernel_w : 2u};
  rec.dispatch(ctx.kernel("max_pool2d_forward", spec),
               {x.slice, y.slice, argmax.slice, quad_binding(ctx, y.slice), quad_binding(ctx, argmax.slice)},
               forward_push,
               quad_groups(quads_of(push.count), ctx.info()), "max_pool2d forward");
}

void max_pool2d_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& argmax,
                         const Pool2dWindow& window) {
  constexpr const char* op = "max_pool2d_backward";
  check_dtype(op, {"dx", dx}, DType::f32);
  const Shape out = pool2d_output_shape(op, {"dx", dx}, window);
  const std::string why = "dx " + shape_text(dx.shape) + " pooled by " + pool2d_window_text(window);
  check_tensor(op, {"dy", dy}, out, DType::f32, why);
  check_tensor(op, {"argmax", argmax}, out, DType::u32, why);
  check_disjoint(op, {{"dx", dx}, {"dy", dy}, {"argmax", argmax}});
  const Pool2dPush push = pool2d_push(op, dx.numel(), dx.shape, out, window);
  if (push.count == 0) return;
  Context& ctx = rec.context();
  const DeviceInfo& device = ctx.info();
  // Windows that tile the input exactly: each output writes its own window (a third of the gather's loads).
  const bool tiled = window.stride_h == window.kernel_h && window.stride_w == window.kernel_w && window.pad_h == 0 &&
                     window.pad_w == 0 && push.H == push.OH * push.kernel_h && push.W == push.OW * push.kernel_w;
  if (tiled) {
    struct TiledPush {
      FastDivisor by_ow, by_oh;
      uint32_t outputs, H, W, OH, OW, kernel_h, kernel_w;
    } tiled_push{fast_divisor(push.OW), fast_divisor(push.OH), to_u32(dy.numel(), op), push.H, push.W, push.OH,
                 push.OW, push.kernel_h, push.kernel_w};
    rec.dispatch(ctx.kernel("max_pool2d_backward_tiled",
                            std::vector<uint32_t>{loop_free_workgroup(device), push.kernel_h, push.kernel_w}),
                 {dy.slice, argmax.slice, dx.slice}, tiled_push, loop_free_groups(tiled_push.outputs, device),
                 "max_pool2d backward (tiled windows)");
    return;
  }
  rec.dispatch(ctx.kernel("max_pool2d_backward", std::vector<uint32_t>{elementwise_workgroup(device)}),
               {dy.slice, argmax.slice, dx.slice}, push, elementwise_groups(push.count, device), "max_pool2d backward");
}

}  // namespace vkdrop::ops

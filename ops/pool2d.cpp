#include <vkdrop/ops/pool2d.hpp>

#include <fmt/format.h>

#include <string>

namespace vkdrop::ops {

void check_pool2d_window(const char* op, const Pool2dWindow& w) {
  check_value(op, w.kernel_h >= 1, "kernel_h", double(w.kernel_h), "at least 1");
  check_value(op, w.kernel_w >= 1, "kernel_w", double(w.kernel_w), "at least 1");
  check_value(op, w.stride_h >= 1, "stride_h", double(w.stride_h), "at least 1");
  check_value(op, w.stride_w >= 1, "stride_w", double(w.stride_w), "at least 1");
  const std::string half_h = fmt::format("in [0, kernel_h / 2] = [0, {}] (PyTorch: pad should be at most half of "
                                         "effective kernel size)", w.kernel_h / 2);
  const std::string half_w = fmt::format("in [0, kernel_w / 2] = [0, {}] (PyTorch: pad should be at most half of "
                                         "effective kernel size)", w.kernel_w / 2);
  check_value(op, w.pad_h >= 0 && w.pad_h <= w.kernel_h / 2, "pad_h", double(w.pad_h), half_h.c_str());
  check_value(op, w.pad_w >= 0 && w.pad_w <= w.kernel_w / 2, "pad_w", double(w.pad_w), half_w.c_str());
}

Shape pool2d_output_shape(const char* op, Arg x, const Pool2dWindow& w) {
  check_rank(op, x, {3, 4}, "(N, C, H, W) or (C, H, W)");
  check_pool2d_window(op, w);
  const size_t r = x.tensor.rank();
  const int64_t H = x.tensor.dim(r - 2), W = x.tensor.dim(r - 1);
  check_value(op, H >= 1, "input height", double(H), "at least 1");
  check_value(op, W >= 1, "input width", double(W), "at least 1");
  const std::string fits_h = fmt::format("at most the padded height of {} '{}' {}, {} + 2 * {}", x.role, x.tensor.name,
                                         shape_text(x.tensor.shape), H, w.pad_h);
  const std::string fits_w = fmt::format("at most the padded width of {} '{}' {}, {} + 2 * {}", x.role, x.tensor.name,
                                         shape_text(x.tensor.shape), W, w.pad_w);
  check_value(op, w.kernel_h <= H + 2 * w.pad_h, "kernel_h", double(w.kernel_h), fits_h.c_str());
  check_value(op, w.kernel_w <= W + 2 * w.pad_w, "kernel_w", double(w.kernel_w), fits_w.c_str());
  Shape out = x.tensor.shape;
  out[r - 2] = ref::pool_output_size(H, w.kernel_h, w.stride_h, w.pad_h);
  out[r - 1] = ref::pool_output_size(W, w.kernel_w, w.stride_w, w.pad_w);
  return out;
}

std::string pool2d_window_text(const Pool2dWindow& w) {
  return fmt::format("a {}×{} window, stride ({}, {}), padding ({}, {})", w.kernel_h, w.kernel_w, w.stride_h,
                     w.stride_w, w.pad_h, w.pad_w);
}

Pool2dPush pool2d_push(const char* op, int64_t count, const Shape& input, const Shape& output, const Pool2dWindow& w) {
  const size_t r = input.size();
  const std::string what = fmt::format("{}: the pooled tensors", op);
  return Pool2dPush{to_u32(count, what),
                    to_u32(input[r - 2], what),
                    to_u32(input[r - 1], what),
                    to_u32(output[r - 2], what),
                    to_u32(output[r - 1], what),
                    to_u32(w.kernel_h, what),
                    to_u32(w.kernel_w, what),
                    to_u32(w.stride_h, what),
                    to_u32(w.stride_w, what),
                    to_u32(w.pad_h, what),
                    to_u32(w.pad_w, what)};
}

}  // namespace vkdrop::ops

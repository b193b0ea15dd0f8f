#include <vkdrop/layers/pool2d.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

namespace vkdrop {

Pool2d::Pool2d(const char* layer, int64_t kernel_size, std::optional<int64_t> stride, int64_t padding) {
  const int64_t s = stride.value_or(kernel_size);
  ops::check_value(layer, kernel_size >= 1, "kernel_size", double(kernel_size), "at least 1");
  ops::check_value(layer, s >= 1, "stride", double(s), "at least 1");
  const std::string half = fmt::format("in [0, kernel_size / 2] = [0, {}] (PyTorch: pad should be at most half of "
                                       "effective kernel size)", kernel_size / 2);
  ops::check_value(layer, padding >= 0 && padding <= kernel_size / 2, "padding", double(padding), half.c_str());
  window_ = ref::Pool2dWindow{kernel_size, kernel_size, s, s, padding, padding};
}

std::string Pool2d::window_text() const {
  return fmt::format("kernel_size={}, stride={}, padding={}", kernel_size(), stride(), padding());
}

Shape Pool2d::output_shape(const Shape& input) const {
  if (input.size() != 3 && input.size() != 4) {
    throw ShapeError(fmt::format("{} expects (N, C, H, W) or (C, H, W), got {}", describe(), shape_text(input)));
  }
  const size_t r = input.size();
  const int64_t H = input[r - 2], W = input[r - 1], k = kernel_size(), p = padding();
  if (H < 1 || W < 1 || H + 2 * p < k || W + 2 * p < k) {
    throw ShapeError(fmt::format("{}: input {} is too small for a {} × {} window: with padding {} its planes are {} × {}",
                                 describe(), shape_text(input), k, k, p, H + 2 * p, W + 2 * p));
  }
  Shape output = input;
  output[r - 2] = ref::pool_output_size(H, k, stride(), p);
  output[r - 1] = ref::pool_output_size(W, k, stride(), p);
  return output;
}

}  // namespace vkdrop

#pragma once
// What the 2-D poolings (ops/max_pool2d, ops/avg_pool2d) check alike: the window, and the input's shape
// against it. The window's geometry is reference/pool2d.hpp.

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/reference/pool2d.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <string>

namespace vkdrop::ops {

using ref::Pool2dWindow;

// ArgumentError unless, in each dimension, kernel >= 1, stride >= 1 and 0 <= padding <= kernel / 2
// (PyTorch's limit: "pad should be at most half of effective kernel size").
void check_pool2d_window(const char* op, const Pool2dWindow& window);

// The pooled shape of `x`, (N, C, H, W) or (C, H, W): the same leading dimensions, then
// (OH, OW) = ((H + 2·pad_h − kernel_h) / stride_h + 1, likewise for W). ShapeError for another rank,
// ArgumentError when the kernel is larger than the padded input.
Shape pool2d_output_shape(const char* op, Arg x, const Pool2dWindow& window);

// "a 2×2 window, stride (2, 2), padding (0, 0)": why an output must have the shape it has.
std::string pool2d_window_text(const Pool2dWindow& window);

// The push constants both pooling shaders take: the element count they loop over, then the geometry.
struct Pool2dPush {
  uint32_t count;
  uint32_t H, W, OH, OW;
  uint32_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
};
// `count`: the elements one dispatch covers (its outputs forward, its inputs backward); `input` and `output`
// shapes end in (H, W) and (OH, OW).
Pool2dPush pool2d_push(const char* op, int64_t count, const Shape& input, const Shape& output,
                       const Pool2dWindow& window);

}  // namespace vkdrop::ops

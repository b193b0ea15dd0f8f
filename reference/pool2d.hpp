#pragma once
// The window of a 2-D pooling (torch.nn.MaxPool2d, AvgPool2d) with dilation 1 and ceil_mode=False: the
// geometry reference/max_pool2d.hpp and reference/avg_pool2d.hpp share, and that ops/pool2d checks.

#include <algorithm>
#include <cstdint>

namespace vkdrop::ref {

// Output (oh, ow) pools input rows oh·stride_h − pad_h .. + kernel_h − 1 and the columns likewise; rows and
// columns outside the input are padding.
struct Pool2dWindow {
  int64_t kernel_h, kernel_w;
  int64_t stride_h, stride_w;
  int64_t pad_h, pad_w;
};

// floor((in + 2·pad − kernel) / stride) + 1, or 0 when the kernel does not fit in the padded input.
inline int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad) {
  const int64_t room = in + 2 * pad - kernel;
  return room < 0 ? 0 : room / stride + 1;
}

// The input rows (or columns) output o covers, clipped to the input: [first, last).
struct PoolSpan {
  int64_t first, last;
};
inline PoolSpan pool_span(int64_t o, int64_t in, int64_t kernel, int64_t stride, int64_t pad) {
  const int64_t start = o * stride - pad;
  return {std::max<int64_t>(start, 0), std::min(start + kernel, in)};
}

// The outputs whose windows cover input row (or column) i: [first, last), clipped to [0, out).
inline PoolSpan pool_covering(int64_t i, int64_t out, int64_t kernel, int64_t stride, int64_t pad) {
  const int64_t low = i + pad - kernel + 1;  // the first o with o·stride − pad + kernel − 1 >= i
  const int64_t first = low <= 0 ? 0 : (low + stride - 1) / stride;
  return {first, std::min((i + pad) / stride + 1, out)};
}

}  // namespace vkdrop::ref

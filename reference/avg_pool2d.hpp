#pragma once
// CPU reference for average pooling (torch.nn.AvgPool2d with ceil_mode=False, count_include_pad=True and no
// divisor_override), the spec of shaders/avg_pool2d.comp.
// Convention: backward functions WRITE (=) their gradients, they do not accumulate.
//
// Planes: every (n, c) of an (N, C, H, W) input, P = N·C planes of H × W. Padding counts as zeros that are
// part of every window, so each output divides by kernel_h·kernel_w (with ceil_mode=False no window reaches
// past the padding, so that is PyTorch's divisor for every output).

#include <vkdrop/reference/pool2d.hpp>

#include <cstdint>

namespace vkdrop::ref {

// y (P, OH, OW) = (the sum of each window of x (P, H, W)) / (kernel_h·kernel_w).
template <typename T>
void avg_pool2d_forward(T* y, const T* x, int64_t planes, int64_t H, int64_t W, const Pool2dWindow& w) {
  const int64_t OH = pool_output_size(H, w.kernel_h, w.stride_h, w.pad_h);
  const int64_t OW = pool_output_size(W, w.kernel_w, w.stride_w, w.pad_w);
  const T divisor = T(w.kernel_h * w.kernel_w);
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * H * W;
    for (int64_t oh = 0; oh < OH; ++oh) {
      const PoolSpan rows = pool_span(oh, H, w.kernel_h, w.stride_h, w.pad_h);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const PoolSpan cols = pool_span(ow, W, w.kernel_w, w.stride_w, w.pad_w);
        T sum = T(0);
        for (int64_t ih = rows.first; ih < rows.last; ++ih) {
          for (int64_t iw = cols.first; iw < cols.last; ++iw) sum += xp[ih * W + iw];
        }
        y[(p * OH + oh) * OW + ow] = sum / divisor;
      }
    }
  }
}

// dx (P, H, W) = the sum, over the outputs whose windows cover the element, of dy / (kernel_h·kernel_w), added
// in row-major output order (as PyTorch spreads grad_output / divisor over each window); 0 where no window
// reaches. dy (P, OH, OW).
template <typename T>
void avg_pool2d_backward(T* dx, const T* dy, int64_t planes, int64_t H, int64_t W, const Pool2dWindow& w) {
  const int64_t OH = pool_output_size(H, w.kernel_h, w.stride_h, w.pad_h);
  const int64_t OW = pool_output_size(W, w.kernel_w, w.stride_w, w.pad_w);
  const T divisor = T(w.kernel_h * w.kernel_w);
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t ih = 0; ih < H; ++ih) {
      const PoolSpan out_rows = pool_covering(ih, OH, w.kernel_h, w.stride_h, w.pad_h);
      for (int64_t iw = 0; iw < W; ++iw) {
        const PoolSpan out_cols = pool_covering(iw, OW, w.kernel_w, w.stride_w, w.pad_w);
        T sum = T(0);
        for (int64_t oh = out_rows.first; oh < out_rows.last; ++oh) {
          for (int64_t ow = out_cols.first; ow < out_cols.last; ++ow) sum += dy[(p * OH + oh) * OW + ow] / divisor;
        }
        dx[(p * H + ih) * W + iw] = sum;
      }
    }
  }
}

}  // namespace vkdrop::ref

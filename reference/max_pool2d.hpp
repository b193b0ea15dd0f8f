#pragma once
// CPU reference for max pooling (torch.nn.MaxPool2d with dilation 1, ceil_mode=False), the spec of
// shaders/max_pool2d_forward.comp and max_pool2d_backward.comp.
// Convention: backward functions WRITE (=) their gradients, they do not accumulate.
//
// Planes: every (n, c) of an (N, C, H, W) input, P = N·C planes of H × W. Padding acts as −inf: it never
// wins. The scan follows PyTorch's CPU kernel (aten/src/ATen/native/cpu/MaxPoolKernel.cpp): in row-major
// window order, an element replaces the running maximum when it is greater or NaN, starting from −inf at
// the window's first element inside the input. So ties go to the FIRST maximal element, a NaN wins (the
// last NaN of the window), and a window of −inf picks its first element.

#include <vkdrop/reference/pool2d.hpp>

#include <cmath>
#include <cstdint>
#include <limits>

namespace vkdrop::ref {

// y (P, OH, OW) = the window maxima of x (P, H, W); argmax (P, OH, OW) = the plane-local index ih·W + iw of
// the element each output took (PyTorch's return_indices).
template <typename T>
void max_pool2d_forward(T* y, uint32_t* argmax, const T* x, int64_t planes, int64_t H, int64_t W,
                        const Pool2dWindow& w) {
  const int64_t OH = pool_output_size(H, w.kernel_h, w.stride_h, w.pad_h);
  const int64_t OW = pool_output_size(W, w.kernel_w, w.stride_w, w.pad_w);
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * H * W;
    for (int64_t oh = 0; oh < OH; ++oh) {
      const PoolSpan rows = pool_span(oh, H, w.kernel_h, w.stride_h, w.pad_h);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const PoolSpan cols = pool_span(ow, W, w.kernel_w, w.stride_w, w.pad_w);
        T best = -std::numeric_limits<T>::infinity();
        int64_t best_index = rows.first * W + cols.first;
        for (int64_t ih = rows.first; ih < rows.last; ++ih) {
          for (int64_t iw = cols.first; iw < cols.last; ++iw) {
            const T v = xp[ih * W + iw];
            if (v > best || std::isnan(v)) {
              best = v;
              best_index = ih * W + iw;
            }
          }
        }
        const int64_t o = (p * OH + oh) * OW + ow;
        y[o] = best;
        argmax[o] = static_cast<uint32_t>(best_index);
      }
    }
  }
}

// dx (P, H, W): each input element gets the sum of dy over the outputs whose argmax it is, added in
// row-major output order (as the GPU gathers them); every other element gets 0.
// dy (P, OH, OW), argmax (P, OH, OW) from max_pool2d_forward.
template <typename T>
void max_pool2d_backward(T* dx, const T* dy, const uint32_t* argmax, int64_t planes, int64_t H, int64_t W,
                         const Pool2dWindow& w) {
  const int64_t OH = pool_output_size(H, w.kernel_h, w.stride_h, w.pad_h);
  const int64_t OW = pool_output_size(W, w.kernel_w, w.stride_w, w.pad_w);
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t ih = 0; ih < H; ++ih) {
      const PoolSpan out_rows = pool_covering(ih, OH, w.kernel_h, w.stride_h, w.pad_h);
      for (int64_t iw = 0; iw < W; ++iw) {
        const PoolSpan out_cols = pool_covering(iw, OW, w.kernel_w, w.stride_w, w.pad_w);
        T sum = T(0);
        for (int64_t oh = out_rows.first; oh < out_rows.last; ++oh) {
          for (int64_t ow = out_cols.first; ow < out_cols.last; ++ow) {
            const int64_t o = (p * OH + oh) * OW + ow;
            if (argmax[o] == static_cast<uint32_t>(ih * W + iw)) sum += dy[o];
          }
        }
        dx[(p * H + ih) * W + iw] = sum;
      }
    }
  }
}

}  // namespace vkdrop::ref

#pragma once
// CPU reference for channel-wise dropout (torch.nn.Dropout2d / Dropout1d), the spec of
// shaders/dropout2d.comp. Convention: backward functions WRITE (=) their gradients, they do not
// accumulate.
//
// Input (N, C, S) with S = H*W (or L). One draw per (n, c), with mask element index n*C + c (the
// contract in reference/dropout_mask.hpp), shared by all S elements of that channel. Scaling, eval
// and p = 0 / p = 1 behave exactly as in reference/dropout.hpp; dropped elements are written as +0.

#include <vkdrop/reference/dropout_mask.hpp>
#include <vkdrop/reference/dropout_scaling.hpp>

#include <cstdint>

namespace vkdrop::ref {

// y (N, C, S), x (N, C, S).
template <typename T>
void dropout2d_forward(T* y, const T* x, int N, int C, int S, double p, DropoutScaling scaling, bool training,
                       uint64_t seed, uint64_t step, uint32_t layer) {
  const uint32_t threshold = keep_threshold(p);  // validates p
  const T scale = T(dropout_scale(p, scaling, training));
  for (int n = 0; n < N; ++n) {
    for (int c = 0; c < C; ++c) {
      const uint64_t channel = uint64_t(n) * uint64_t(C) + uint64_t(c);
      const bool keep = !training || dropout_keep(seed, step, layer, channel, threshold);
      const T* x_nc = x + channel * uint64_t(S);
      T* y_nc = y + channel * uint64_t(S);
      for (int s = 0; s < S; ++s) y_nc[s] = keep ? x_nc[s] * scale : T(0);
    }
  }
}

// dx (N, C, S), dy (N, C, S). Training only: dx = m[n, c] ? dy * scale : 0.
template <typename T>
void dropout2d_backward(T* dx, const T* dy, int N, int C, int S, double p, DropoutScaling scaling, uint64_t seed,
                        uint64_t step, uint32_t layer) {
  const uint32_t threshold = keep_threshold(p);
  const T scale = T(dropout_scale(p, scaling, /*training=*/true));
  for (int n = 0; n < N; ++n) {
    for (int c = 0; c < C; ++c) {
      const uint64_t channel = uint64_t(n) * uint64_t(C) + uint64_t(c);
      const bool keep = dropout_keep(seed, step, layer, channel, threshold);
      const T* dy_nc = dy + channel * uint64_t(S);
      T* dx_nc = dx + channel * uint64_t(S);
      for (int s = 0; s < S; ++s) dx_nc[s] = keep ? dy_nc[s] * scale : T(0);
    }
  }
}

}  // namespace vkdrop::ref

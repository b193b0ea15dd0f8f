#pragma once
// CPU reference for element-wise dropout (torch.nn.Dropout), the spec of shaders/dropout*.comp.
// Convention: backward functions WRITE (=) their gradients, they do not accumulate.
//
// p is the probability to DROP. The mask m comes from the contract in reference/dropout_mask.hpp
// with element = the flat index i; backward regenerates it from the same (seed, step, layer).
// A dropped element is written as +0 (a select, not a multiply by 0), so p = 1 gives exact zeros
// even for inf or NaN inputs.

#include <vkdrop/reference/dropout_mask.hpp>
#include <vkdrop/reference/dropout_scaling.hpp>

#include <cstdint>

namespace vkdrop::ref {

// y (n), x (n).
// training: y = m ? x * scale : 0, with scale 1/(1-p) (inverted; 0 when p = 1) or 1 (vanilla).
// eval:     y = x (inverted) or y = x * (1 - p) (vanilla); the mask is not drawn.
template <typename T>
void dropout_forward(T* y, const T* x, int n, double p, DropoutScaling scaling, bool training, uint64_t seed,
                     uint64_t step, uint32_t layer) {
  const uint32_t threshold = keep_threshold(p);  // validates p
  const T scale = T(dropout_scale(p, scaling, training));
  for (int i = 0; i < n; ++i) {
    if (!training) {
      y[i] = x[i] * scale;
    } else {
      y[i] = dropout_keep(seed, step, layer, uint64_t(i), threshold) ? x[i] * scale : T(0);
    }
  }
}

// dx (n), dy (n). Training only: dx = m ? dy * scale : 0, with the forward's mask and scale.
template <typename T>
void dropout_backward(T* dx, const T* dy, int n, double p, DropoutScaling scaling, uint64_t seed, uint64_t step,
                      uint32_t layer) {
  const uint32_t threshold = keep_threshold(p);
  const T scale = T(dropout_scale(p, scaling, /*training=*/true));
  for (int i = 0; i < n; ++i) {
    dx[i] = dropout_keep(seed, step, layer, uint64_t(i), threshold) ? dy[i] * scale : T(0);
  }
}

}  // namespace vkdrop::ref

#pragma once
// CPU reference for Sigmoid (torch.nn.Sigmoid), the spec of shaders/sigmoid.comp.
// Convention: backward functions WRITE (=) their gradients, they do not accumulate.

#include <cmath>

namespace vkdrop::ref {

// y = 1 / (1 + e^-x), computed from e = e^-|x| <= 1 so that nothing overflows for large |x|: 1 / (1 + e) for
// x >= 0 and e / (1 + e) below, the same function. NaN gives NaN, +inf 1, -inf 0. y (n), x (n).
template <typename T>
void sigmoid_forward(T* y, const T* x, int n) {
  for (int i = 0; i < n; ++i) {
    const T e = std::exp(-std::abs(x[i]));
    y[i] = x[i] >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
  }
}

// dx = dy · y · (1 - y), the derivative written with the forward's output y (as PyTorch's sigmoid_backward).
// dx (n), dy (n), y (n).
template <typename T>
void sigmoid_backward(T* dx, const T* dy, const T* y, int n) {
  for (int i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (T(1) - y[i]);
}

}  // namespace vkdrop::ref

#pragma once
// CPU reference for Tanh (torch.nn.Tanh), the spec of shaders/tanh.comp.
// Convention: backward functions WRITE (=) their gradients, they do not accumulate.

#include <cmath>

namespace vkdrop::ref {

// y = tanh(x) = (e^x - e^-x) / (e^x + e^-x). tanh(±0) = ±0, ±inf give ±1, NaN gives NaN. y (n), x (n).
template <typename T>
void tanh_forward(T* y, const T* x, int n) {
  for (int i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

// dx = dy · (1 - y²), the derivative written with the forward's output y (as PyTorch's tanh_backward).
// dx (n), dy (n), y (n).
template <typename T>
void tanh_backward(T* dx, const T* dy, const T* y, int n) {
  for (int i = 0; i < n; ++i) dx[i] = dy[i] * (T(1) - y[i] * y[i]);
}

}  // namespace vkdrop::ref

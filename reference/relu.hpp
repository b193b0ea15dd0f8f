#pragma once
// CPU reference for ReLU, the spec of shaders/relu_forward.comp and shaders/relu_backward.comp.
// Convention: backward functions WRITE (=) their gradients, they do not accumulate.

namespace vkdrop::ref {

// y = max(x, 0). y (n), x (n).
template <typename T>
void relu_forward(T* y, const T* x, int n) {
  for (int i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}

// dx = x > 0 ? dy : 0, so ReLU'(0) = 0 as in PyTorch. dx (n), dy (n), x (n): the forward's input.
template <typename T>
void relu_backward(T* dx, const T* dy, const T* x, int n) {
  for (int i = 0; i < n; ++i) dx[i] = x[i] > T(0) ? dy[i] : T(0);
}

}  // namespace vkdrop::ref

#pragma once
// CPU reference for ELU (torch.nn.ELU), the spec of shaders/elu.comp.
// Convention: backward functions WRITE (=) their gradients, they do not accumulate.

#include <cmath>

namespace vkdrop::ref {

// y = x <= 0 ? alpha · (e^x - 1) : x, with e^x - 1 as std::expm1 (exact to the last digits for small |x|, and
// -0 for -0). -inf gives -alpha; NaN gives NaN. y (n), x (n).
template <typename T>
void elu_forward(T* y, const T* x, int n, T alpha) {
  for (int i = 0; i < n; ++i) y[i] = x[i] <= T(0) ? alpha * std::expm1(x[i]) : x[i];
}

// dx = x <= 0 ? dy · alpha · e^x : dy, from the forward's input x. As PyTorch, the test is x <= 0, so at the kink
// ELU'(0) = alpha (the x <= 0 side), and a NaN x passes dy back. dx (n), dy (n), x (n).
template <typename T>
void elu_backward(T* dx, const T* dy, const T* x, int n, T alpha) {
  for (int i = 0; i < n; ++i) dx[i] = x[i] <= T(0) ? dy[i] * alpha * std::exp(x[i]) : dy[i];
}

}  // namespace vkdrop::ref

#pragma once
// CPU reference for LeakyReLU (torch.nn.LeakyReLU), the spec of shaders/leaky_relu.comp.
// Convention: backward functions WRITE (=) their gradients, they do not accumulate.

namespace vkdrop::ref {

// y = x > 0 ? x : negative_slope · x. y (n), x (n). -0 gives -0 · negative_slope; NaN gives NaN.
template <typename T>
void leaky_relu_forward(T* y, const T* x, int n, T negative_slope) {
  for (int i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : negative_slope * x[i];
}

// dx = x > 0 ? dy : negative_slope · dy, from the forward's input x. PyTorch tests x > 0, so at the kink
// LeakyReLU'(0) = negative_slope, and a NaN x gives negative_slope · dy. dx (n), dy (n), x (n).
template <typename T>
void leaky_relu_backward(T* dx, const T* dy, const T* x, int n, T negative_slope) {
  for (int i = 0; i < n; ++i) dx[i] = x[i] > T(0) ? dy[i] : negative_slope * dy[i];
}

}  // namespace vkdrop::ref

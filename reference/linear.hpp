#pragma once
// CPU reference for a fully connected layer (torch.nn.Linear), built from reference/matmul.hpp the
// same way the GPU layer is built from shaders/matmul.comp. PyTorch layout: W (out, in), b (out).
// Convention: backward functions WRITE (=) their gradients, they do not accumulate.

#include <vkdrop/reference/matmul.hpp>

namespace vkdrop::ref {

// y = x · Wᵀ + b.
// y (B, out), x (B, in), w (out, in), b (out) or nullptr for a layer without bias.
template <typename T>
void linear_forward(T* y, const T* x, const T* w, const T* b, int B, int in, int out) {
  matmul(y, x, w, B, out, in, /*trans_a=*/false, /*trans_b=*/true);
  if (b == nullptr) return;
  for (int row = 0; row < B; ++row) {
    for (int o = 0; o < out; ++o) y[row * out + o] += b[o];
  }
}

// dx = dy · W, dW = dyᵀ · x, db = Σ_rows dy. Pass nullptr for any gradient not wanted.
// dx (B, in), dw (out, in), db (out); dy (B, out), x (B, in), w (out, in).
template <typename T>
void linear_backward(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, int B, int in, int out) {
  if (dx != nullptr) matmul(dx, dy, w, B, in, out, /*trans_a=*/false, /*trans_b=*/false);
  if (dw != nullptr) matmul(dw, dy, x, out, in, B, /*trans_a=*/true, /*trans_b=*/false);
  if (db != nullptr) {
    for (int o = 0; o < out; ++o) {
      double sum = 0.0;
      for (int row = 0; row < B; ++row) sum += double(dy[row * out + o]);
      db[o] = T(sum);
    }
  }
}

}  // namespace vkdrop::ref

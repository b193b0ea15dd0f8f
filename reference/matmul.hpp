#pragma once
// CPU reference for matrix multiplication, the spec of shaders/matmul.comp. All matrices row-major.
// (No backward here: the gradients of a product are products, see reference/linear.hpp.)

namespace vkdrop::ref {

// C = op(A) · op(B), accumulated in double and rounded once to T.
// c (M, N); a (M, K), or (K, M) when trans_a; b (K, N), or (N, K) when trans_b.
template <typename T>
void matmul(T* c, const T* a, const T* b, int M, int N, int K, bool trans_a, bool trans_b) {
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      double sum = 0.0;
      for (int k = 0; k < K; ++k) {
        const T a_mk = trans_a ? a[k * M + m] : a[m * K + k];
        const T b_kn = trans_b ? b[n * K + k] : b[k * N + n];
        sum += double(a_mk) * double(b_kn);
      }
      c[m * N + n] = T(sum);
    }
  }
}

}  // namespace vkdrop::ref

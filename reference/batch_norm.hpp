#pragma once
// CPU reference for batch normalization (torch.nn.BatchNorm1d / BatchNorm2d with affine=True and
// track_running_stats=True), the spec of shaders/batch_norm_forward.comp, batch_norm_eval.comp and
// batch_norm_backward.comp. Convention: backward functions WRITE (=) their gradients, they do not accumulate.
//
// x is seen as (N, C, L): L = H·W for BatchNorm2d's (N, C, H, W), L for BatchNorm1d's (N, C, L), 1 for its
// (N, C). Channel c has M = N·L values x[n, c, l]. Training normalises them with their own mean and biased
// variance, and moves the running statistics towards the mean and the UNBIASED variance (M − 1 in the
// denominator), as torch.nn.functional.batch_norm does; eval normalises with the running statistics.

#include <cmath>
#include <cstdint>

namespace vkdrop::ref {

// Per channel c, over its M values (M >= 2; PyTorch refuses M = 1 when training):
//   mean = Σ x / M, var = Σ (x − mean)² / M (the mean first, then the squares about it);
//   save_mean[c] = mean, save_invstd[c] = 1 / sqrt(var + eps): what backward needs;
//   y = (x − mean) · save_invstd · weight[c] + bias[c];
//   running_mean[c] = momentum · mean + (1 − momentum) · running_mean[c];
//   running_var[c]  = momentum · Σ (x − mean)² / (M − 1) + (1 − momentum) · running_var[c];
// and num_batches_tracked += 1 once. y, x (N, C, L); the others (C); num_batches_tracked (), one value.
template <typename T>
void batch_norm_forward_training(T* y, T* save_mean, T* save_invstd, T* running_mean, T* running_var,
                                 T* num_batches_tracked, const T* x, const T* weight, const T* bias, int64_t N,
                                 int64_t C, int64_t L, double eps, double momentum) {
  const int64_t M = N * L;
  const T m = T(momentum);
  for (int64_t c = 0; c < C; ++c) {
    T sum = T(0);
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t l = 0; l < L; ++l) sum += x[(n * C + c) * L + l];
    }
    const T mean = sum / T(M);
    T squares = T(0);
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t l = 0; l < L; ++l) {
        const T d = x[(n * C + c) * L + l] - mean;
        squares += d * d;
      }
    }
    const T invstd = T(1) / std::sqrt(squares / T(M) + T(eps));
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t l = 0; l < L; ++l) {
        const int64_t i = (n * C + c) * L + l;
        y[i] = (x[i] - mean) * invstd * weight[c] + bias[c];
      }
    }
    save_mean[c] = mean;
    save_invstd[c] = invstd;
    running_mean[c] = m * mean + (T(1) - m) * running_mean[c];
    running_var[c] = m * (squares / T(M - 1)) + (T(1) - m) * running_var[c];
  }
  *num_batches_tracked += T(1);
}

// y = (x − running_mean[c]) / sqrt(running_var[c] + eps) · weight[c] + bias[c]. y, x (N, C, L); the others (C).
template <typename T>
void batch_norm_forward_eval(T* y, const T* x, const T* running_mean, const T* running_var, const T* weight,
                             const T* bias, int64_t N, int64_t C, int64_t L, double eps) {
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t c = 0; c < C; ++c) {
      const T invstd = T(1) / std::sqrt(running_var[c] + T(eps));
      for (int64_t l = 0; l < L; ++l) {
        const int64_t i = (n * C + c) * L + l;
        y[i] = (x[i] - running_mean[c]) * invstd * weight[c] + bias[c];
      }
    }
  }
}

// The gradient of the training forward, with x̂ = (x − save_mean[c]) · save_invstd[c] over channel c's M values:
//   dbias[c] = Σ dy, dweight[c] = Σ dy · x̂,
//   dx = weight[c] · save_invstd[c] · (dy − dbias[c] / M − x̂ · dweight[c] / M)
// (the batch statistics depend on every x of the channel, hence the two mean terms). dx may be nullptr (not
// wanted). dx, dy, x (N, C, L); the others (C).
template <typename T>
void batch_norm_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight, const T* save_mean,
                         const T* save_invstd, int64_t N, int64_t C, int64_t L) {
  const int64_t M = N * L;
  for (int64_t c = 0; c < C; ++c) {
    T sum_dy = T(0), sum_dy_xhat = T(0);
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t l = 0; l < L; ++l) {
        const int64_t i = (n * C + c) * L + l;
        sum_dy += dy[i];
        sum_dy_xhat += dy[i] * (x[i] - save_mean[c]) * save_invstd[c];
      }
    }
    dbias[c] = sum_dy;
    dweight[c] = sum_dy_xhat;
    if (dx == nullptr) continue;
    const T scale = weight[c] * save_invstd[c];
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t l = 0; l < L; ++l) {
        const int64_t i = (n * C + c) * L + l;
        const T xhat = (x[i] - save_mean[c]) * save_invstd[c];
        dx[i] = scale * (dy[i] - sum_dy / T(M) - xhat * sum_dy_xhat / T(M));
      }
    }
  }
}

}  // namespace vkdrop::ref

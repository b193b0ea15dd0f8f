#pragma once
// CPU references for the parameter updates, the spec of shaders/sgd.comp, shaders/adam.comp and
// shaders/max_norm.comp. PyTorch semantics (torch.optim.SGD with dampening 0, torch.optim.Adam,
// torch.optim.AdamW). Every tensor here is a flat (n) view of one parameter arena.
//
// Hyperparameters arrive as double, are validated as PyTorch validates them, and are rounded once
// to T, the way the GPU receives them as push constants; the per-element arithmetic runs in T.

#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

#include <cmath>

namespace vkdrop::ref {

namespace detail {
inline void check_hyperparameter(bool ok, const char* name, double value, const char* expected) {
  if (!ok) throw ArgumentError(fmt::format("invalid {} = {}: expected {}", name, value, expected));
}
}  // namespace detail

// SGD with momentum, as torch.optim.SGD (dampening 0):
//   g' = g + wd·w;  v = momentum·v + g';  step = nesterov ? g' + momentum·v : v;  w -= lr·step.
// Starting from v = 0 reproduces PyTorch's first step, which sets v = g'.
// w (n) updated, g (n), v (n) the momentum buffer, updated.
template <typename T>
void sgd_step(T* w, const T* g, T* v, int n, double lr, double momentum, double weight_decay, bool nesterov) {
  detail::check_hyperparameter(lr >= 0.0, "learning rate", lr, ">= 0");
  detail::check_hyperparameter(momentum >= 0.0, "momentum", momentum, ">= 0");
  detail::check_hyperparameter(weight_decay >= 0.0, "weight decay", weight_decay, ">= 0");
  detail::check_hyperparameter(!nesterov || momentum > 0.0, "momentum", momentum, "> 0 for Nesterov momentum");
  const T lr_t = T(lr), momentum_t = T(momentum), weight_decay_t = T(weight_decay);
  for (int i = 0; i < n; ++i) {
    T grad = g[i];
    if (weight_decay != 0.0) grad += weight_decay_t * w[i];
    v[i] = momentum_t * v[i] + grad;
    const T step = nesterov ? grad + momentum_t * v[i] : v[i];
    w[i] -= lr_t * step;
  }
}

// Adam (decoupled = false) or AdamW (decoupled = true), as torch.optim.Adam / AdamW, step t >= 1:
//   Adam:  g' = g + wd·w                AdamW: w = w·(1 - lr·wd), g' = g
//   m = β1·m + (1-β1)·g';  v = β2·v + (1-β2)·g'²
//   w -= lr·m̂ / (sqrt(v̂) + eps)  with m̂ = m / (1-β1^t), v̂ = v / (1-β2^t),
// evaluated as PyTorch does: w -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + eps).
// w (n) updated, g (n), m (n) and v (n) the moment buffers (start at 0), updated.
template <typename T>
void adam_step(T* w, const T* g, T* m, T* v, int n, double lr, double beta1, double beta2, double eps,
               double weight_decay, int t, bool decoupled) {
  detail::check_hyperparameter(lr >= 0.0, "learning rate", lr, ">= 0");
  detail::check_hyperparameter(beta1 >= 0.0 && beta1 < 1.0, "beta1", beta1, "in [0, 1)");
  detail::check_hyperparameter(beta2 >= 0.0 && beta2 < 1.0, "beta2", beta2, "in [0, 1)");
  detail::check_hyperparameter(eps >= 0.0, "eps", eps, ">= 0");
  detail::check_hyperparameter(weight_decay >= 0.0, "weight decay", weight_decay, ">= 0");
  detail::check_hyperparameter(t >= 1, "Adam step t", t, ">= 1 (the first step is 1)");
  // Host-side scalars, in double as PyTorch computes them in Python.
  const double bias_correction1 = 1.0 - std::pow(beta1, t);
  const double bias_correction2 = 1.0 - std::pow(beta2, t);
  const T step_size = T(lr / bias_correction1);
  const T bias_correction2_sqrt = T(std::sqrt(bias_correction2));
  const T decay = T(1.0 - lr * weight_decay);  // AdamW's multiplicative decay
  const T weight_decay_t = T(weight_decay), beta1_t = T(beta1), beta2_t = T(beta2), eps_t = T(eps);
  const T one_minus_beta1 = T(1.0 - beta1), one_minus_beta2 = T(1.0 - beta2);
  for (int i = 0; i < n; ++i) {
    T grad = g[i];
    if (weight_decay != 0.0) {
      if (decoupled) {
        w[i] *= decay;
      } else {
        grad += weight_decay_t * w[i];
      }
    }
    m[i] = beta1_t * m[i] + one_minus_beta1 * grad;
    v[i] = beta2_t * v[i] + one_minus_beta2 * (grad * grad);
    const T denom = std::sqrt(v[i]) / bias_correction2_sqrt + eps_t;
    w[i] -= step_size * (m[i] / denom);
  }
}

// The max-norm constraint of Srivastava et al. 2014 (applied after each update): each row of
// W (out, in) is one unit's incoming weight vector; a row whose L2 norm exceeds c is scaled to
// norm c, the others are left untouched. w (rows, cols).
template <typename T>
void max_norm(T* w, int rows, int cols, double c) {
  detail::check_hyperparameter(c > 0.0, "max-norm bound c", c, "> 0");
  for (int row = 0; row < rows; ++row) {
    T* w_row = w + row * cols;
    double sum_squares = 0.0;
    for (int col = 0; col < cols; ++col) sum_squares += double(w_row[col]) * double(w_row[col]);
    const double norm = std::sqrt(sum_squares);
    if (norm <= c) continue;
    const T scale = T(c / norm);
    for (int col = 0; col < cols; ++col) w_row[col] *= scale;
  }
}

}  // namespace vkdrop::ref

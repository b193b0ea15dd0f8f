#pragma once
// CPU reference for fused softmax + cross-entropy, mean over the batch
// (torch.nn.functional.cross_entropy with reduction='mean'), the spec of shaders/softmax_xent.comp.
// Convention: backward functions WRITE (=) their gradients, they do not accumulate.
//
// Numerically stable: log Σ exp(z) is computed as max + log Σ exp(z - max), so logits of ±1000 give
// finite losses and gradients. Sums run in double.

#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

#include <cmath>
#include <cstdint>

namespace vkdrop::ref {

// Throws ArgumentError for an empty batch, no classes, or a label outside [0, classes).
inline void check_labels(const int32_t* labels, int B, int classes) {
  if (B <= 0 || classes <= 0) {
    throw ArgumentError(fmt::format("softmax cross-entropy needs B > 0 and classes > 0, got B = {}, classes = {}",
                                    B, classes));
  }
  for (int row = 0; row < B; ++row) {
    if (labels[row] < 0 || labels[row] >= classes) {
      throw ArgumentError(fmt::format("label {} in row {} is outside [0, {}): the labels must be class indices",
                                      labels[row], row, classes));
    }
  }
}

// log Σ_j exp(z_j) over one row. z (classes).
template <typename T>
double log_sum_exp(const T* z, int classes) {
  double max = double(z[0]);
  for (int j = 1; j < classes; ++j) max = std::fmax(max, double(z[j]));
  double sum = 0.0;
  for (int j = 0; j < classes; ++j) sum += std::exp(double(z[j]) - max);
  return max + std::log(sum);
}

// Returns mean_rows (log Σ_j exp(logits[row, j]) - logits[row, label]).
// logits (B, classes), labels (B).
template <typename T>
T softmax_xent_forward(const T* logits, const int32_t* labels, int B, int classes) {
  check_labels(labels, B, classes);
  double total = 0.0;
  for (int row = 0; row < B; ++row) {
    const T* z = logits + row * classes;
    total += log_sum_exp(z, classes) - double(z[labels[row]]);
  }
  return T(total / B);
}

// dlogits = (softmax(logits) - onehot(labels)) / B.
// dlogits (B, classes); logits (B, classes), labels (B).
template <typename T>
void softmax_xent_backward(T* dlogits, const T* logits, const int32_t* labels, int B, int classes) {
  check_labels(labels, B, classes);
  for (int row = 0; row < B; ++row) {
    const T* z = logits + row * classes;
    const double lse = log_sum_exp(z, classes);
    for (int j = 0; j < classes; ++j) {
      const double softmax = std::exp(double(z[j]) - lse);
      const double onehot = j == labels[row] ? 1.0 : 0.0;
      dlogits[row * classes + j] = T((softmax - onehot) / B);
    }
  }
}

// The number of rows whose argmax equals the label; ties go to the lowest index, as torch.argmax.
// logits (B, classes), labels (B).
template <typename T>
int count_correct(const T* logits, const int32_t* labels, int B, int classes) {
  check_labels(labels, B, classes);
  int correct = 0;
  for (int row = 0; row < B; ++row) {
    const T* z = logits + row * classes;
    int argmax = 0;
    for (int j = 1; j < classes; ++j) {
      if (z[j] > z[argmax]) argmax = j;  // strict: an equal later value does not win
    }
    correct += argmax == labels[row] ? 1 : 0;
  }
  return correct;
}

}  // namespace vkdrop::ref

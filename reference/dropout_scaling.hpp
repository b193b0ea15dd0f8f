#pragma once
// How dropout scales what it keeps. Shared by the CPU references (Dropout, Dropout2d) and the layers,
// so the enum lives in namespace vkdrop; the scale arithmetic is in vkdrop::ref with the references.

#include <vkdrop/reference/dropout_mask.hpp>

namespace vkdrop {

// p is the probability to DROP an element (torch.nn.Dropout).
enum class DropoutScaling {
  Inverted,  // PyTorch: training y = x * m / (1 - p); eval is the identity.
  Vanilla,   // Srivastava et al. 2014: training y = x * m; eval y = x * (1 - p).
};

}  // namespace vkdrop

namespace vkdrop::ref {

// The factor applied to the elements dropout keeps (training) or to every element (eval). Computed
// in double on the host and rounded once to the element type, the same way the GPU receives it.
// p = 1 in inverted training gives 0 (it never multiplies anything, since nothing is kept, but it
// must never be inf).
inline double dropout_scale(double p, DropoutScaling scaling, bool training) {
  check_dropout_p(p);
  if (scaling == DropoutScaling::Inverted) {
    if (!training) return 1.0;
    return p == 1.0 ? 0.0 : 1.0 / (1.0 - p);
  }
  return training ? 1.0 : 1.0 - p;
}

}  // namespace vkdrop::ref

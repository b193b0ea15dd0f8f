#pragma once
// Class probabilities: probs = softmax(logits) per row. Shader: softmax.comp.
// (Training uses the fused softmax cross-entropy in softmax_xent.hpp instead.)

#include "runtime/recorder.hpp"
#include "runtime/tensor.hpp"

namespace vkdrop::ops {

// logits, probs: (rows, classes).
void softmax(Recorder& rec, const Tensor& probs, const Tensor& logits);

}  // namespace vkdrop::ops

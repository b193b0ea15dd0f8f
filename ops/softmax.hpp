#pragma once
// Class probabilities: probs = softmax(logits) per row, or probs += softmax(logits) (accumulate: the sum
// over the replays of a stochastic forward pass, for Monte Carlo dropout). Shader: softmax.comp.
// (Training uses the fused softmax cross-entropy in softmax_xent.hpp instead.)

#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

namespace vkdrop::ops {

enum class SoftmaxOutput { Write, Accumulate };

// logits, probs: (rows, classes).
void softmax(Recorder& rec, const Tensor& probs, const Tensor& logits, SoftmaxOutput output = SoftmaxOutput::Write);

}  // namespace vkdrop::ops

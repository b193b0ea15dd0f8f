#pragma once
// Fused, numerically stable softmax cross-entropy (mean over the batch) with its gradient, the count of
// correct argmax predictions, and the running sums a training loop reads back every N steps.
// CPU reference: reference/softmax_xent.hpp. Shaders: softmax_xent.comp, metrics_accumulate.comp.

#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

namespace vkdrop::ops {

// logits: (B, C) f32; labels: (B) i32.
// dlogits: (B, C) f32 = (softmax - onehot) / B, or an empty tensor to skip the gradient (eval).
// row_loss: (B) f32, the per-row loss -log softmax[label]; row_correct: (B) u32, 1 where argmax == label
// (ties → lowest index, as torch.argmax).
// status: (1) u32; a label outside [0, C) sets bit 0 (status |= 1) and that row's loss and gradient are 0 —
// never an out-of-bounds read. The host checks status when it reads the metrics and reports the error.
// Outputs must not overlap logits or labels (ArgumentError). B = 0 records nothing; C = 0 with B > 0 is an
// ArgumentError; wrong shapes are ShapeErrors, wrong dtypes ArgumentErrors.
void softmax_xent(Recorder& rec, const Tensor& dlogits, const Tensor& row_loss, const Tensor& row_correct,
                  const Tensor& logits, const Tensor& labels, const Tensor& status);

// totals: (4) f32 running sums: [0] += Σ row_loss, [1] += Σ row_correct, [2] += B (rows seen), [3] unused.
// One workgroup; cheap next to the step it closes. Counts are exact in f32 up to 2^24 rows: read and reset
// the totals at least once an epoch of that size.
void accumulate_metrics(Recorder& rec, const Tensor& totals, const Tensor& row_loss, const Tensor& row_correct);

}  // namespace vkdrop::ops

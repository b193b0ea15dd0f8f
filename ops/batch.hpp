#pragma once
// Batches from a dataset resident on the device as bytes (MNIST: 47 MB as uint8, never as f32).
// Shaders: gather_batch.comp, mask_rows.comp.

#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

namespace vkdrop::ops {

// x (B, sample...) f32 = images[order[pos + r]] * scale; labels_out (B) i32 = labels[order[pos + r]].
// images: (count, sample...) u8; labels: (count) u8; order: (count) u32, a permutation of 0..count-1;
// pos: (2) u32 device counter, the first sample of the batch. Rows past count repeat sample order[0]
// (see mask_rows).
void gather_batch(Recorder& rec, const Tensor& x, const Tensor& labels_out, const Tensor& images,
                  const Tensor& labels, const Tensor& order, const Tensor& pos, float scale);

// Zero row_loss (B) f32 and row_correct (B) u32 where pos + r >= count: padded rows count for nothing.
void mask_rows(Recorder& rec, const Tensor& row_loss, const Tensor& row_correct, const Tensor& pos, int64_t count);

}  // namespace vkdrop::ops

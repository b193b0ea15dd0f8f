#pragma once
// The second pass of a reduction split over workgroups (matmul's K, bias_backward's rows): the first pass
// writes `slices` partial results, each shaped as `out`, `slice_stride` floats apart in `partials`; this adds
// them in order s = 0, 1, ... (and a bias per column of out), so the result depends on the split alone, never on
// timing. Shader: split_sum.comp. How many slices a reduction may take is each op's own rule.

#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <cstdint>
#include <string>

namespace vkdrop::ops {

// Floats between slices for an output of `elements`: rounded up to quads, so each slice starts 16-byte aligned.
uint64_t split_slice_stride(int64_t elements);

// out (M, N) or (N) = Σ_s partials[s·slice_stride .. + out.numel()) (+ bias (N) per column of out, or nullptr).
// `partials` is the slices' slice of the caller's scratch. Internal to ops: callers have checked the shapes.
void sum_slices(Recorder& rec, const Tensor& out, const BufferSlice& partials, uint32_t slices, uint64_t slice_stride,
                const Tensor* bias, const std::string& label);

}  // namespace vkdrop::ops

#pragma once
// Catches a diverging run on the device, without a host read per step.

#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

namespace vkdrop::ops {

// first_bad (2) u32 = step + 1 the first time totals[0] (the running loss sum) is NaN or inf; stays 0 while
// the loss is finite. Shader: loss_guard.comp.
void loss_guard(Recorder& rec, const Tensor& first_bad, const Tensor& totals, const Tensor& step);

}  // namespace vkdrop::ops

#pragma once
// Writes this step's learning rate and momentum to a device tensor, from the device step counter.
// CPU reference: reference/schedule.hpp. Shader: shaders/schedule.comp.

#include <vkdrop/reference/schedule.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

namespace vkdrop::ops {

// hyper: (4) f32 = [lr, momentum, 0, 0]; step: (2) u32.
void schedule(Recorder& rec, const Tensor& hyper, const Tensor& step, const Schedule& schedule);

}  // namespace vkdrop::ops

#pragma once
// Device counters that a recorded program advances itself, so a replay needs no host write: the step that
// drives dropout masks and the schedule, the position of the next batch. Shader: counter_add.comp.

#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <cstdint>
#include <string>

namespace vkdrop::ops {

// counter (2) u32, a 64-bit value (low word first): counter += amount, with the carry.
void counter_add(Recorder& rec, const Tensor& counter, uint32_t amount, const std::string& label);

}  // namespace vkdrop::ops

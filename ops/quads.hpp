#pragma once
// Element-wise kernels move floats four at a time: they read whole quads through an rgba32f texel buffer and
// write them through a vec4 storage buffer, and take only a tensor's last partial quad through the float
// bindings. On lavapipe every storage-buffer store is a loop over the SIMD lanes, so one vec4 store per lane
// costs what one float store did (a copy kernel: 2.2 GB/s with float stores, 6.0 with vec4 ones); on a GPU
// it is one 16-byte access per invocation instead of four 4-byte ones.
//
// A kernel written this way binds each tensor twice, as floats and as quads; quad_binding gives the slice
// for the quad binding.

#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/arena.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace vkdrop::ops {

// `slice` when it holds at least one whole quad, else the context's placeholder (the kernel reads or writes
// no quad of a tensor with fewer than four elements, and a texel buffer must hold at least one texel).
BufferSlice quad_binding(Context& ctx, const BufferSlice& slice);

// Whole quads and the elements of the last partial one, for a kernel over `n` elements.
constexpr int64_t quads_of(int64_t n) { return n / 4 + (n % 4 != 0 ? 1 : 0); }

// A loop-free kernel over the quads of `n` elements (shaders/quad_sets.glsl: four quads an invocation, no
// loop): its grid (ops::loop_free_groups), its specialization constants and which of its twins to run.
// quad_set_constants gives {workgroup size (loop_free_workgroup), PARTIAL (a partial last quad), CONTIGUOUS (a CPU
// device's order), LONE_QUAD (an odd number of whole quads)} for a kernel with no constants of its own (copy,
// ReLU); one that has some (dropout_interleaved) puts quad_set_flags after them.
constexpr int64_t k_quad_set = 4;  // QUAD_SET in quad_sets.glsl
std::array<uint32_t, 3> quad_set_groups(int64_t n, const DeviceInfo& device);
// {PARTIAL, CONTIGUOUS, LONE_QUAD}
std::array<uint32_t, 3> quad_set_flags(int64_t n, const DeviceInfo& device);
// {workgroup, PARTIAL, CONTIGUOUS, LONE_QUAD}
std::vector<uint32_t> quad_set_constants(int64_t n, const DeviceInfo& device);

// The kernel to run for quad-set kernel `name` on this device: `name`, or where ops::u64_stores says so its twin
// `name`_u64, which stores the whole quads in pairs as 64-bit words (shaders/quad_set_stores.glsl; the pairs are a
// lane's neighbouring quads, the order CONTIGUOUS gives, which u64_stores' CPU devices use).
std::string quad_set_kernel(const std::string& name, const DeviceInfo& device);

}  // namespace vkdrop::ops

#pragma once
// Every number that sizes a dispatch or a submission for a device, in one place: workgroup sizes, elements
// per invocation, the matmul's blocking, how many training steps one submission carries. Ops and the
// training loop ask here; nothing else hard-codes them. Element-wise kernels use a grid-stride loop, so any
// element count fits in the device's workgroup-count limit.
//
// Why they differ by device class: lavapipe (a CPU device) runs a workgroup as a loop over subgroup-wide
// SIMD chunks on one core and pays a fixed cost per workgroup, so it wants few, small, long-running
// workgroups; a GPU wants every element in flight at once and workgroups of at least a warp.

#include <vkdrop/ops/matmul.hpp>
#include <vkdrop/runtime/context.hpp>

#include <array>
#include <cstdint>

namespace vkdrop::ops {

// --- element-wise kernels -------------------------------------------------------------------------------
// Invocations per workgroup (a specialization constant of every element-wise shader).
uint32_t elementwise_workgroup(const DeviceInfo& device);
// Elements each invocation takes through its grid-stride loop.
uint32_t elements_per_invocation(const DeviceInfo& device);
// Quads (four elements: one vec4 load and store, one Philox draw in dropout) each invocation of a kernel that
// works in quads takes through its grid-stride loop (see quads.hpp).
uint32_t quads_per_invocation(const DeviceInfo& device);

// Workgroups for `n` items at `per_group` items per workgroup, capped at the device limit (the kernel's
// grid-stride loop covers the rest).
std::array<uint32_t, 3> groups_1d(int64_t n, int64_t per_group, const DeviceInfo& device);
// Workgroups for an element-wise kernel over `n` elements.
std::array<uint32_t, 3> elementwise_groups(int64_t n, const DeviceInfo& device);
// Workgroups for a kernel over `items` quads.
std::array<uint32_t, 3> quad_groups(int64_t items, const DeviceInfo& device);

// Planes of `plane_size` values each workgroup of a kernel that takes whole planes (a channel of one sample)
// loops over.
int64_t planes_per_workgroup(int64_t plane_size, const DeviceInfo& device);

// Quads a dropout invocation draws at once: 4 on a CPU device (dropout_interleaved.comp: four quads an invocation
// without a loop, their Philox draws interleaved round by round, since lavapipe runs an invocation's rounds in
// order for all its lanes and one draw at a time waits on each round's multiplies), 1 on a GPU (dropout.comp: a
// quad an iteration of a grid-stride loop).
uint32_t dropout_draws_at_once(const DeviceInfo& device);

// --- loop-free kernels ------------------------------------------------------------------------------------
// A kernel without a grid-stride loop (lavapipe pays for each iteration of a loop, its masks, about a third of
// what copying a quad costs) has an invocation for every item: workgroups of loop_free_workgroup invocations,
// in two dimensions where one would pass the device's limit; the kernel flattens (y * groups.x + x) and skips
// the invocations past the last item. Throws ArgumentError if even two dimensions cannot hold `items`.
uint32_t loop_free_workgroup(const DeviceInfo& device);
std::array<uint32_t, 3> loop_free_groups(int64_t items, const DeviceInfo& device);

// Whether a subgroupShuffle with a computed lane is about as cheap as an arithmetic instruction: on GPUs, and on
// lavapipe only with exactly 8 lanes of 32 bits (one vpermd; at 4 or 16 lanes Mesa 22.3 runs it as a loop over
// the lanes through the stack). False without subgroup shuffles.
bool cheap_subgroup_shuffle(const DeviceInfo& device);

// Whether kernels store floats through 64-bit words (their `_u64` twins: pairs of quads as u64vec4 in the
// element-wise kernels, a quad as u64vec2 in the matmul): on CPU devices with shaderInt64. lavapipe (Mesa 22.3) stores
// lane by lane and component by component, so half as many components move the same bytes in about half the time
// (a copy kernel 1.3-1.6x as fast; the CNN's 288x25088x64 input-gradient product 16-18 -> 14-15 ms).
bool u64_stores(const DeviceInfo& device);

// --- reductions -----------------------------------------------------------------------------------------
// bias_backward.comp's workgroup (columns, rows) for a (rows, cols) gradient.
std::array<uint32_t, 2> bias_backward_workgroup(const DeviceInfo& device, int64_t cols);
// One workgroup per row of `columns` values (softmax, softmax cross-entropy, max-norm's shared tree): a
// power of two, wide enough that each invocation has a few columns, no wider than the row.
uint32_t row_workgroup(int64_t columns, const DeviceInfo& device);
// max_norm.comp with subgroupAdd: the invocations per row (one subgroup on a CPU device: no barrier).
uint32_t subgroup_row_workgroup(int64_t columns, const DeviceInfo& device);

// --- split reductions (matmul's K, bias_backward's rows) ------------------------------------------------------
// The workgroups a reduction with too few of them is split up to: one per core of a CPU device (lavapipe runs a
// workgroup on one core, and the split costs a second pass, so only reductions that would leave cores idle
// split), 512 on a GPU (a few per multiprocessor of a large one).
uint64_t split_target_workgroups(const DeviceInfo& device);

// --- matmul -----------------------------------------------------------------------------------------------
// The blocking matmul uses on this device (see MatmulTiling), and the shared-memory tiling every device runs.
MatmulTiling matmul_tiling(const DeviceInfo& device);
MatmulTiling shared_memory_matmul_tiling();

// --- submissions ----------------------------------------------------------------------------------------
// Training submits chunks of steps sized so the device stays busy this long between two host reads of the
// running metrics, and never more than max_steps_per_chunk steps at once.
struct ChunkTuning {
  double seconds_per_chunk = 0.25;
  int64_t max_steps_per_chunk = 1024;
};
ChunkTuning chunk_tuning(const DeviceInfo& device);

}  // namespace vkdrop::ops

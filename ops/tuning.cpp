#include <vkdrop/ops/tuning.hpp>

#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <thread>

namespace vkdrop::ops {

uint32_t elementwise_workgroup(const DeviceInfo& device) { return device.is_cpu() ? 64 : 256; }

// lavapipe pays a fixed cost per workgroup, so fewer invocations that each take 16 elements through the
// grid-stride loop keep its cores busier; a GPU wants one element per invocation, all in flight at once.
uint32_t elements_per_invocation(const DeviceInfo& device) { return device.is_cpu() ? 16 : 1; }

// lavapipe: four quads per invocation, for the same reason.
uint32_t quads_per_invocation(const DeviceInfo& device) { return device.is_cpu() ? 4 : 1; }

uint32_t dropout_draws_at_once(const DeviceInfo& device) { return device.is_cpu() ? 4 : 1; }

// lavapipe: a copy without a loop moved 10.7 GB/s in workgroups of 1024, 10.4 in 256, 9.4 in 64 (16 lanes).
uint32_t loop_free_workgroup(const DeviceInfo& device) {
  return std::min<uint32_t>({256u, device.max_workgroup_size[0], device.max_workgroup_invocations});
}

std::array<uint32_t, 3> loop_free_groups(int64_t items, const DeviceInfo& device) {
  if (items <= 0) return {0, 1, 1};  // no work: Recorder::dispatch records nothing
  const int64_t local = loop_free_workgroup(device);
  const int64_t groups = (items + local - 1) / local;
  const int64_t max_x = device.max_workgroup_count[0], max_y = device.max_workgroup_count[1];
  if (groups <= max_x) return {static_cast<uint32_t>(groups), 1, 1};
  const int64_t rows = (groups + max_x - 1) / max_x;
  if (rows > max_y) {
    throw ArgumentError(fmt::format("{} items need {} workgroups of {}: more than this device's {} x {}", items,
                                    groups, local, max_x, max_y));
  }
  return {static_cast<uint32_t>(max_x), static_cast<uint32_t>(rows), 1};
}

std::array<uint32_t, 3> groups_1d(int64_t n, int64_t per_group, const DeviceInfo& device) {
  const int64_t groups = (n + per_group - 1) / per_group;
  return {static_cast<uint32_t>(std::min<int64_t>(groups, device.max_workgroup_count[0])), 1, 1};
}

std::array<uint32_t, 3> elementwise_groups(int64_t n, const DeviceInfo& device) {
  return groups_1d(n, int64_t{elementwise_workgroup(device)} * elements_per_invocation(device), device);
}

// A GPU wants 256 invocations, with rows split 8 ways so that even few columns keep warps busy. lavapipe:
// one invocation per column and no barriers is fastest. Below 16 columns (a classifier's bias) both are
// equally fast, and splitting rows there keeps the GPU's shared-memory path under test on lavapipe.
std::array<uint32_t, 3> quad_groups(int64_t items, const DeviceInfo& device) {
  return groups_1d(items, int64_t{elementwise_workgroup(device)} * quads_per_invocation(device), device);
}

// lavapipe's fixed cost per workgroup is about what a 14 x 14 plane's values cost, so a CPU device gives each
// workgroup planes of 4 096 values or more in all (the CNN's 128 x 64 x 14 x 14 BatchNorm + ReLU + Dropout2d
// at 16 lanes, one plane per workgroup -> 20: forward 9.7 -> 4.1 ms, backward dx 8.5 -> 4.5 ms). A GPU takes
// one plane per workgroup.
int64_t planes_per_workgroup(int64_t plane_size, const DeviceInfo& device) {
  if (!device.is_cpu()) return 1;
  const int64_t values = 4 * int64_t{elementwise_workgroup(device)} * elements_per_invocation(device);
  return std::max<int64_t>(1, values / std::max<int64_t>(plane_size, 1));
}

std::array<uint32_t, 2> bias_backward_workgroup(const DeviceInfo& device, int64_t cols) {
  if (!device.is_cpu()) return {32, 8};
  if (cols < 16) return {8, 8};
  return {32, 1};
}

uint32_t row_workgroup(int64_t columns, const DeviceInfo& device) {
  const uint32_t hi = std::bit_floor(std::min<uint32_t>(
      {device.is_cpu() ? 64u : 256u, device.max_workgroup_size[0], device.max_workgroup_invocations}));
  const uint32_t lo = std::min(device.is_cpu() ? 8u : 32u, hi);
  const auto wanted = std::bit_ceil(static_cast<uint64_t>(std::max<int64_t>(columns, 1)));
  return static_cast<uint32_t>(std::clamp<uint64_t>(wanted, lo, hi));
}

uint32_t subgroup_row_workgroup(int64_t columns, const DeviceInfo& device) {
  const uint32_t row = row_workgroup(columns, device);
  if (device.is_cpu() && device.subgroup_size >= 1 && device.subgroup_size <= row_workgroup(1 << 20, device)) {
    return device.subgroup_size;
  }
  return row;
}

uint64_t split_target_workgroups(const DeviceInfo& device) {
  return device.is_cpu() ? std::max(1u, std::thread::hardware_concurrency()) : 512u;
}

MatmulTiling shared_memory_matmul_tiling() {
  // The conventional GPU tiling: 64 x 64 per workgroup of 256, 4 x 4 per invocation, K-slices of 16.
  return MatmulTiling{64, 64, 16, 4, 4, true};
}

bool cheap_subgroup_shuffle(const DeviceInfo& device) {
  return device.subgroup_shuffle && (!device.is_cpu() || device.subgroup_size == 8);
}

bool u64_stores(const DeviceInfo& device) { return device.is_cpu() && device.shader_int64; }

MatmulTiling matmul_tiling(const DeviceInfo& device) {
  if (device.is_cpu() && device.subgroup_size >= 4) {
    // One subgroup per workgroup; 64 x 8 accumulators per lane were the fastest on lavapipe among the blocks
    // LLVM compiles in about 2 s (64 x 16 is slightly faster but compiles three times as long). X is staged
    // 4 k-steps per lane at a time. Lanes share X by shuffles at 8 lanes (one vpermd on lavapipe); at any
    // other width every lane loads the X it needs itself (2-vCPU AVX2 EPYC, the MLP's five products: 4 lanes
    // 13-33 ms each against 59-78 ms with subgroupBroadcast, 16 lanes 8-20 against 18-28; at 8 lanes the
    // shuffle stays ahead, 5-9 ms against 7-10), and without shuffles at all.
    // At 16 lanes and more, 32 x 16 (the same 512 accumulators, twice the columns a lane) was faster on a
    // 2-vCPU Zen 5 with AVX-512 (16 lanes, bench_gemm --block, alternating: 1024^3 70-79 -> 103-105 GFLOP/s,
    // 1024x1024x128 45-46 -> 56-79; 128-row products within the noise).
    const uint32_t lanes = device.subgroup_size;
    const bool load_x = !cheap_subgroup_shuffle(device);
    const uint32_t tm = lanes >= 16 ? 32 : 64, tn = lanes >= 16 ? 16 : 8;
    return {tm, lanes * tn, 4 * lanes, tm, tn, false, load_x, u64_stores(device)};
  }
  return shared_memory_matmul_tiling();
}

ChunkTuning chunk_tuning(const DeviceInfo&) { return ChunkTuning{}; }

}  // namespace vkdrop::ops

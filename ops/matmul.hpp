#pragma once
// C = op(A)·op(B) (+ bias per column), f32: tiled in shared memory with register blocking on GPUs,
// register blocks read straight from the buffers on CPU devices (lavapipe), see shaders/matmul.comp.
// Serves Linear: forward Y = X·Wᵀ + b (trans_b), backward dX = dY·W and dW = dYᵀ·X (trans_a).
// CPU reference: reference/matmul.hpp.

#include <vkdrop/ops/dropout.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace vkdrop::ops {

// What matmul applies to each value of c on its way out, after the bias: a Linear with a ReLU (and a Dropout) after
// it in one pass instead of two, and its backward folded into the product that makes its output's gradient. The
// bits are those of the separate ops.
struct MatmulEpilogue {
  enum class Kind {
    None,
    // c = relu(c), then dropout(c) when `dropout`: relu_forward / relu_dropout_forward. The mask is drawn in
    // training (`training`, from `step`: ops::dropout_forward's u32 (2) counter) by C's flat element index; in eval
    // the dropout is the identity, or x·(1-p) with vanilla scaling.
    ReLU,
    // c = gate > 0 ? c·scale : 0, gate the forward output of a ReLU (and `dropout` after it), shaped as c, scale the
    // dropout's in training (1 without one): relu_backward / relu_dropout_backward with c as their dy.
    ReLUBackward,
  };
  Kind kind = Kind::None;
  std::optional<DropoutConfig> dropout;
  bool training = true;
  const Tensor* step = nullptr;
  const Tensor* gate = nullptr;

  static MatmulEpilogue relu(std::optional<DropoutConfig> dropout = std::nullopt, bool training = true,
                             const Tensor* step = nullptr) {
    return {Kind::ReLU, std::move(dropout), training, step, nullptr};
  }
  static MatmulEpilogue relu_backward(const Tensor& gate, std::optional<DropoutConfig> dropout = std::nullopt) {
    return {Kind::ReLUBackward, std::move(dropout), true, nullptr, &gate};
  }
  // The epilogue keeps a pointer to the gate: not to a temporary.
  static MatmulEpilogue relu_backward(const Tensor&& gate, std::optional<DropoutConfig> dropout = std::nullopt) = delete;
};

// c: (M, N); a: (M, K), or (K, M) when trans_a; b: (K, N), or (N, K) when trans_b;
// bias: (N) added to every row of c, or nullptr. Any M, N, K >= 0 (not only tile multiples); M = 0 or
// N = 0 records nothing, K = 0 writes c = bias (or 0), as the reference and torch.mm do.
// Throws ShapeError naming the tensors and shapes when they do not chain, ArgumentError for a tensor that
// is not f32 or an output that overlaps an input.
//
// partials: scratch for splitting K (or nullptr: never split). A product with few outputs and a long K (a
// conv's weight gradient: 32 x 9 outputs over K = 100 352 positions; a classifier's 10 columns) leaves most
// of a device idle when each workgroup walks the whole of K, so matmul may split K into slices summed by
// separate workgroups into `partials`, then add the slices in order (and the bias) in a second pass. The
// result is deterministic (the split depends on the shape and the device only) and equals the unsplit
// product up to float rounding. partials is f32 with at least matmul_partials_elements(M, N, K) elements and
// disjoint from a, b, c and bias; a layer declares it as scratch (BufferSpec::scratch).
//
// epilogue: applied to every value of c after the bias (MatmulEpilogue). Where K is split it runs as its own
// element-wise pass after the slices are summed (the same bits). Throws ArgumentError for a dropout p outside
// [0, 1], a dropout without the ReLU or without the step it needs, and a gate or step that overlaps c or partials;
// ShapeError for a gate not shaped as c and a step that is not a u32 (2) counter.
void matmul(Recorder& rec, const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
            const Tensor* bias = nullptr, const Tensor* partials = nullptr, const MatmulEpilogue& epilogue = {});

// The most slices matmul splits the K of an (M, N, K) product into, from the shape alone (1: never), so
// that a layer can size its scratch before it knows the device: at least 256 k-steps a slice, at most 64
// slices, and no more than about 2 MiB of partial sums.
uint32_t matmul_max_split(int64_t M, int64_t N, int64_t K);
// Elements of `partials` that an (M, N, K) product may use (0 when it never splits).
int64_t matmul_partials_elements(int64_t M, int64_t N, int64_t K);

// The tile configuration matmul uses on this device (specialization constants of matmul.comp), so
// benchmarks can print it.
struct MatmulTiling {
  uint32_t tile_m, tile_n, tile_k;   // output tile per workgroup, and K-slice staged in shared memory
  uint32_t thread_m, thread_n;       // outputs per invocation (register block)
  // true: stage tiles in shared memory (GPUs). false (CPU devices): a workgroup is one subgroup without
  // shared memory, each lane a thread_m x thread_n block read straight from the buffers; tile_m =
  // thread_m, tile_n = lanes * thread_n (lanes = the subgroup size, at least 4, with subgroup shuffles),
  // tile_k = 4 * lanes (k-steps of A or B staged per lane, shared by shuffles); thread_m and thread_n are
  // multiples of 4 and bounds: smaller products get smaller blocks, and columns that one tile up to half again as
  // wide covers get such a block (see matmul.cpp).
  bool shared = true;
  // Register path only: every lane loads the X values it needs itself (matmul_load.comp; no subgroup
  // operations) instead of taking them from the lane that loaded them by subgroupShuffle (matmul.comp).
  // lavapipe runs a shuffle as one instruction only with 8 lanes of 32 bits.
  bool load_x = false;
  // Register path only: store Z's quads as two 64-bit words each (the _u64 twins of matmul.comp and
  // matmul_load.comp), where ops::u64_stores says so; needs shaderInt64.
  bool u64_stores = false;
  // Shared path only: each invocation loads the next K-slice of X and Y into registers while the workgroup computes
  // the current one from shared memory (software pipelining), so that the global loads' latency hides behind the
  // multiply-adds where few workgroups share a multiprocessor. The same bits; a tuner candidate. Needs the slices
  // to split evenly over the invocations (tile_k·tile_m and tile_k·tile_n multiples of their count).
  bool prefetch = false;
  bool operator==(const MatmulTiling&) const = default;
};
MatmulTiling matmul_tiling(const DeviceInfo& device);
// What matmul takes untuned: matmul_tiling(device), or the shared-memory tiling where the device cannot run its
// register path.
MatmulTiling matmul_untuned_tiling(const DeviceInfo& device);
// Whether this device can run the tiling: "" if so, else why not (what matmul's ArgumentError would say).
std::string matmul_tiling_problem(const MatmulTiling& tiling, const DeviceInfo& device);

// The product takes matmul_tiling(device), or where the device's MatmulTuner is on (ops/matmul_tuner.hpp: GPUs by
// default) the tiling it measured fastest for this shape; the bits are the same either way.
//
// matmul with an explicit tiling instead of matmul_tiling(device): for benchmarks comparing tilings and
// for testing the shared-memory (GPU) path on a CPU device. Throws ArgumentError for a tiling the device
// cannot run.
void matmul(Recorder& rec, const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
            const Tensor* bias, const MatmulTiling& tiling, const Tensor* partials = nullptr,
            const MatmulEpilogue& epilogue = {});

// A description of a tiling for logs and benchmark headers, e.g. "registers 32x16 per invocation, 8 lanes".
std::string matmul_tiling_text(const MatmulTiling& tiling);

}  // namespace vkdrop::ops

#pragma once
// C = op(A)·op(B) (+ bias per column), f32, tiled in shared memory with register blocking.
// Serves Linear: forward Y = X·Wᵀ + b (trans_b), backward dX = dY·W and dW = dYᵀ·X (trans_a).
// CPU reference: reference/matmul.hpp. Shader: shaders/matmul.comp.

#include "runtime/context.hpp"
#include "runtime/recorder.hpp"
#include "runtime/tensor.hpp"

namespace vkdrop::ops {

// c: (M, N); a: (M, K), or (K, M) when trans_a; b: (K, N), or (N, K) when trans_b;
// bias: (N) added to every row of c, or nullptr. Any M, N, K >= 0 (not only tile multiples).
// Throws ShapeError naming the tensors and shapes when they do not chain.
void matmul(Recorder& rec, const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
            const Tensor* bias = nullptr);

// The tile configuration matmul uses on this device (specialization constants of matmul.comp), so
// benchmarks can print it.
struct MatmulTiling {
  uint32_t tile_m, tile_n, tile_k;   // output tile per workgroup, and K-slice staged in shared memory
  uint32_t thread_m, thread_n;       // outputs per invocation (register block)
};
MatmulTiling matmul_tiling(const DeviceInfo& device);

}  // namespace vkdrop::ops

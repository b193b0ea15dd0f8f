// The body of relu_backward.comp and relu_backward_u64.comp, which differ only in how whole quads are stored
// (QUAD_PAIR_STORES, quad_set_stores.glsl).
//
// dx = y > 0 ? dy : 0, with y relu's output: y > 0 exactly where relu's input was > 0, so ReLU'(0) = 0 as in
// PyTorch, and an in-place relu, which keeps only y, can still be differentiated. dx may be dy. With a dropout
// folded into the ReLU (ops/dropout.hpp), y is the dropout's output and dx = y > 0 ? dy * scale : 0: after a
// ReLU a kept value > 0 is exactly where the gradient flows, and dropout's backward scales it (scale = 1 else).
// Whole quads go through the quad bindings, four an invocation without a loop (quad_sets.glsl), the last
// partial quad through the float ones (ops/quads.hpp).
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = 0) in;                         // workgroup size
#include "quad_sets.glsl"  // its constants PARTIAL, CONTIGUOUS, LONE_QUAD: constant_id 1-3

layout(binding = 0, r32f) readonly uniform imageBuffer DY;       // (n)
layout(binding = 1, r32f) readonly uniform imageBuffer Yout;     // (n): relu's output
layout(binding = 2) writeonly buffer DX { float dx[]; };         // (n)
layout(binding = 3, rgba32f) readonly uniform imageBuffer DY4;   // (n / 4): whole quads
layout(binding = 4, rgba32f) readonly uniform imageBuffer Yout4;  // (n / 4)
layout(binding = 5) writeonly buffer DX4 { QUAD_STORE_TYPE dx4[]; };  // (n / 4)
layout(push_constant) uniform Params {
  uint n;
  float scale;
};

#define QUAD_SET_FLOATS dx
#define QUAD_SET_QUADS dx4
#include "quad_set_stores.glsl"

void main() {
  const uint count = n, whole = count >> 2;
  const float factor = scale;
  // Both loads unconditional, then a select: loading dy only where y > 0 would cost llvmpipe a mispredicted
  // branch per lane, and saves no memory traffic on a GPU (the lines are shared).
  vec4 value[QUAD_SET];
  [[unroll]] for (uint i = 0; i < QUAD_SET; ++i) {
    const uint q = set_quad(i);
    value[i] = vec4(0.0);
    if (q < whole) {
      const vec4 g = imageLoad(DY4, int(q)), v = imageLoad(Yout4, int(q));
      value[i] = mix(vec4(0.0), g * factor, greaterThan(v, vec4(0.0)));
    }
  }
  store_quad_set(value, whole);
  if (PARTIAL && set_slot(whole) < QUAD_SET) {
    [[unroll]] for (uint j = 0; j < 3; ++j) {
      const uint k = 4 * whole + j;
      if (k < count) {
        const float g = imageLoad(DY, int(k)).x;
        const float v = imageLoad(Yout, int(k)).x;
        dx[k] = v > 0.0 ? g * factor : 0.0;
      }
    }
  }
}

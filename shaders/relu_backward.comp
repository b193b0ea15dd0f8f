#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// dx = y > 0 ? dy : 0, with y relu's output: y > 0 exactly where relu's input was > 0, so ReLU'(0) = 0 as in
// PyTorch, and an in-place relu, which keeps only y, can still be differentiated. dx may be dy. With a dropout
// folded into the ReLU (ops/dropout.hpp), y is the dropout's output and dx = y > 0 ? dy * scale : 0: after a
// ReLU a kept value > 0 is exactly where the gradient flows, and dropout's backward scales it (scale = 1 else).
// Whole quads go through the vec4 bindings, four an invocation without a loop (quad_sets.glsl), the last
// partial quad through the float ones (ops/quads.hpp).
layout(local_size_x_id = 0) in;                      // workgroup size
layout(constant_id = 1) const bool PARTIAL = false;     // n % 4 != 0
layout(constant_id = 2) const bool CONTIGUOUS = false;  // quad_sets.glsl: a CPU device's order

#include "quad_sets.glsl"

layout(binding = 0, r32f) readonly uniform imageBuffer DY;       // (n)
layout(binding = 1, r32f) readonly uniform imageBuffer Yout;     // (n): relu's output
layout(binding = 2) writeonly buffer DX { float dx[]; };         // (n)
layout(binding = 3, rgba32f) readonly uniform imageBuffer DY4;   // (n / 4): whole quads
layout(binding = 4, rgba32f) readonly uniform imageBuffer Yout4;  // (n / 4)
layout(binding = 5) writeonly buffer DX4 { vec4 dx4[]; };        // (n / 4)
layout(push_constant) uniform Params {
  uint n;
  float scale;
};

void main() {
  const uint count = n, whole = count >> 2;
  const float factor = scale;
  // Both loads unconditional, then a select: loading dy only where y > 0 would cost llvmpipe a mispredicted
  // branch per lane, and saves no memory traffic on a GPU (the lines are shared).
  [[unroll]] for (uint i = 0; i < QUAD_SET; ++i) {
    const uint q = set_quad(i);
    if (q < whole) {
      const vec4 g = imageLoad(DY4, int(q)), v = imageLoad(Yout4, int(q));
      dx4[q] = mix(vec4(0.0), g * factor, greaterThan(v, vec4(0.0)));
    }
  }
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

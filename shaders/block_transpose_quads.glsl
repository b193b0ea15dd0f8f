// The body of block_transpose_quads.comp and its `_u64` twin: block_transpose.comp where E is a multiple of four, as
// a loop-free quad-set kernel (quad_sets.glsl: four quads an invocation, no grid-stride loop, whose iterations
// lavapipe pays for with its masks; in the twin, pairs of quads stored as u64vec4s). out[b][a][e] = in[a][b][e]
// (+ bias[a]); a quad of out is a quad of in, since E % 4 == 0. The including kernel defines QUAD_PAIR_STORES.
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = 0) in;                        // workgroup size
layout(constant_id = 1) const bool HAS_BIAS = false;  // add bias[a]
#define QUAD_SET_CONSTANTS 2
#include "quad_sets.glsl"  // PARTIAL (never: E % 4 == 0), CONTIGUOUS, LONE_QUAD: constant_id 2-4
#include "fast_divide.glsl"

layout(binding = 0, rgba32f) readonly uniform imageBuffer In4;  // (A, B, E / 4)
layout(binding = 1) writeonly buffer Out { float dst[]; };       // (B, A, E): a lone or partial last quad
layout(binding = 2) writeonly buffer Out4 { QUAD_STORE_TYPE dst4[]; };  // out's whole quads
layout(binding = 3, r32f) readonly uniform imageBuffer Bias;     // (A), read if HAS_BIAS
layout(push_constant) uniform Params {  // block_transpose.comp's
  uint count;  // A·B·E
  uint A, B, E;
  uvec2 by_a, by_e;  // divisors of A and E (fast_divide.glsl)
};

#define QUAD_SET_FLOATS dst
#define QUAD_SET_QUADS dst4
#include "quad_set_stores.glsl"

void main() {
  const uint rows = A, cols = B, block = E, whole = count >> 2;
  const uvec2 div_a = by_a, div_e = by_e;
  vec4 value[QUAD_SET];
  [[unroll]] for (uint i = 0; i < QUAD_SET; ++i) {
    const uint q = set_quad(i);
    value[i] = vec4(0.0);
    if (q < whole) {
      // out's element 4q = (b·A + a)·E + e, taken apart with two divisions (multiplies).
      const uint at = q << 2, ba = fast_divide(at, div_e), e = at - ba * block;
      const uint b = fast_divide(ba, div_a), a = ba - b * rows;
      vec4 v = imageLoad(In4, int(((a * cols + b) * block + e) >> 2));
      if (HAS_BIAS) v += imageLoad(Bias, int(a)).x;
      value[i] = v;
    }
  }
  store_quad_set(value, whole);
  // Elements past the last whole quad: never, since ops/conv2d.cpp runs this kernel only for E % 4 == 0 (then
  // count % 4 == 0 too); kept so that the float binding is part of every twin's interface (the vec4 twin writes it
  // nowhere else). It reads in's quads only, so it would be right only for elements inside in's whole quads.
  if (PARTIAL && set_slot(whole) < QUAD_SET) {
    for (uint k = whole << 2; k < count; ++k) {
      const uint ba = fast_divide(k, div_e), e = k - ba * block, b = fast_divide(ba, div_a), a = ba - b * rows;
      const uint at = (a * cols + b) * block + e;
      float v = imageLoad(In4, int(at >> 2))[at & 3u];
      if (HAS_BIAS) v += imageLoad(Bias, int(a)).x;
      dst[k] = v;
    }
  }
}

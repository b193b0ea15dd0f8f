#version 450
#extension GL_GOOGLE_include_directive : require
// out[b][a][e] = in[a][b][e] (+ bias[a]): the transpose of an A x B matrix whose entries are blocks of E floats.
// ops/conv2d uses it between NCHW (N, OC, OH·OW) and the products' channel-major layout (OC, N·OH·OW), adding
// the bias on the way to NCHW; with E = 1 it is a plain transpose.
//
// Each invocation writes quads of four consecutive elements of out through a grid-stride loop (ops/quads.hpp).
// When E is a multiple of four a quad of out is a quad of in, read with one vec4 load; otherwise the quad's
// first index is taken apart once (a CPU device divides lane by lane) and the other three are stepped to.
layout(local_size_x_id = 0) in;                        // workgroup size
layout(constant_id = 1) const bool HAS_BIAS = false;  // add bias[a]

#include "fast_divide.glsl"

layout(binding = 0, r32f) readonly uniform imageBuffer In;     // (A, B, E)
layout(binding = 1) writeonly buffer Out { float dst[]; };     // (B, A, E)
layout(binding = 2, rgba32f) readonly uniform imageBuffer In4;  // (A, B, E / 4), read if E % 4 == 0
layout(binding = 3) writeonly buffer Out4 { vec4 dst4[]; };    // out's whole quads
layout(binding = 4, r32f) readonly uniform imageBuffer Bias;   // (A), read if HAS_BIAS
layout(push_constant) uniform Params {
  uint count;  // A·B·E
  uint A, B, E;
  uvec2 by_a, by_e;  // divisors of A and E (fast_divide.glsl)
};

void main() {
  // Push constants are read once, outside the loop (inside it, llvmpipe gathers them per lane).
  const uint n_count = count, rows = A, cols = B, block = E;
  const uvec2 div_a = by_a, div_e = by_e;
  const uint whole = n_count >> 2, quads = whole + ((n_count & 3u) != 0u ? 1u : 0u);
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  if ((block & 3u) == 0u) {
    for (uint q = gl_GlobalInvocationID.x; q < whole; q += stride) {
      // out's element 4q = (b·A + a)·E + e, taken apart with two divisions (fast_divide.glsl: multiplies).
      const uint i = q << 2, ba = fast_divide(i, div_e), e = i - ba * block;
      const uint b = fast_divide(ba, div_a), a = ba - b * rows;
      vec4 v = imageLoad(In4, int(((a * cols + b) * block + e) >> 2));
      if (HAS_BIAS) v += imageLoad(Bias, int(a)).x;
      dst4[q] = v;
    }
    return;
  }
  for (uint q = gl_GlobalInvocationID.x; q < quads; q += stride) {
    const uint i = q << 2;
    uint ba = fast_divide(i, div_e), e = i - ba * block, b = fast_divide(ba, div_a), a = ba - b * rows;
    const uint elements = min(n_count - i, 4u);  // the last quad may be partial
    vec4 v = vec4(0.0);
    for (uint k = 0u; k < elements; ++k) {
      v[k] = imageLoad(In, int((a * cols + b) * block + e)).x;
      if (HAS_BIAS) v[k] += imageLoad(Bias, int(a)).x;
      if (++e == block) {  // step to the next element of out: e, then a, then b
        e = 0u;
        if (++a == rows) {
          a = 0u;
          ++b;
        }
      }
    }
    if (q < whole) {
      dst4[q] = v;
    } else {
      for (uint k = 0u; k < elements; ++k) dst[i + k] = v[k];
    }
  }
}

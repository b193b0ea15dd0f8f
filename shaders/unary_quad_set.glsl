// The body of the loop-free element-wise kernels with one input and one output, y = f(x) (copy and ReLU, each
// with a `_u64` twin). The including kernel defines QUAD_PAIR_STORES (quad_set_stores.glsl) and f on a quad and on
// a float, before including this:
//   vec4 map_quad(vec4 x);
//   float map_float(float x);
// Whole quads go through the quad bindings, four an invocation without a loop (quad_sets.glsl), the last partial
// quad through the float ones (ops/quads.hpp). y may be x.
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = 0) in;                         // workgroup size
#include "quad_sets.glsl"  // its constants PARTIAL, CONTIGUOUS, LONE_QUAD: constant_id 1-3

layout(binding = 0, r32f) readonly uniform imageBuffer X;           // (n)
layout(binding = 1) writeonly buffer Y { float y[]; };              // (n)
layout(binding = 2, rgba32f) readonly uniform imageBuffer X4;       // (n / 4): x's whole quads
layout(binding = 3) writeonly buffer Y4 { QUAD_STORE_TYPE y4[]; };  // (n / 4): y's whole quads
layout(push_constant) uniform Params { uint n; };

#define QUAD_SET_FLOATS y
#define QUAD_SET_QUADS y4
#include "quad_set_stores.glsl"

void main() {
  const uint count = n, whole = count >> 2;
  vec4 value[QUAD_SET];
  [[unroll]] for (uint i = 0; i < QUAD_SET; ++i) {
    const uint q = set_quad(i);
    value[i] = vec4(0.0);
    if (q < whole) value[i] = map_quad(imageLoad(X4, int(q)));
  }
  store_quad_set(value, whole);
  if (PARTIAL && set_slot(whole) < QUAD_SET) {
    [[unroll]] for (uint j = 0; j < 3; ++j) {
      const uint k = 4 * whole + j;
      if (k < count) y[k] = map_float(imageLoad(X, int(k)).x);
    }
  }
}

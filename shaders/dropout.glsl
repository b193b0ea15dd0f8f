#extension GL_EXT_control_flow_attributes : require
// The body of dropout.comp and dropout_interleaved.comp, which differ in DRAWS_AT_ONCE (defined by each before
// including this): 1 (dropout.comp, GPUs) takes a quad an iteration of a grid-stride loop; 4
// (dropout_interleaved.comp, CPU devices) takes the four quads of an invocation's set without a loop
// (quad_sets.glsl), their Philox draws interleaved round by round; its twin dropout_interleaved_u64.comp stores
// pairs of quads as 64-bit words (QUAD_PAIR_STORES, quad_set_stores.glsl).
//
// Element-wise dropout, forward and backward: y = keep ? x * scale : 0. Backward is the same computation
// on (dy -> dx) with the forward's (seed, step, layer): it regenerates the forward's mask instead of
// reading a stored one. The spec of this shader is reference/dropout.hpp.
//
// Each invocation handles quads of four consecutive elements 4q .. 4q+3, the four elements whose keep
// decisions one Philox call yields (dropout_keep4, the mask contract in dropout_mask.glsl). Whole quads
// go through the vec4 bindings, the last partial quad through the float ones (ops/quads.hpp).
//
// A dropped element is written as +0 by a select, never as x * 0, so p = 1 gives exact zeros even for
// inf or NaN inputs. With DRAW_MASK = false (eval mode with vanilla scaling) every element is kept,
// y = x * scale, and no random number is drawn.
//
// Interleaved draws (DRAWS_AT_ONCE = 4, CPU devices): one Philox call is ten dependent rounds, and lavapipe
// runs an invocation's code for all its lanes in order, so a single chain leaves the core waiting on each
// round's multiplies (a draw took as long at 4 lanes as at 16); four independent chains overlap. Each quad is
// drawn from its own counter as always, so the masks are the same bits either way. GPUs hide the latency across
// invocations and take one quad each through a grid-stride loop (dropout.comp).
//
// Written for lavapipe as much as for GPUs: x is read unconditionally and the mask only selects the
// result (a load under a random mask costs llvmpipe a mispredicted branch per lane), and the push
// constants are read once, outside all control flow (inside it, llvmpipe gathers them per lane).
layout(local_size_x_id = 0) in;                        // workgroup size
layout(constant_id = 1) const bool DRAW_MASK = true;  // false: eval mode, y = x * scale
// true: x is first ReLU'd, relu_forward.comp's select (a ReLU with this dropout folded into it, ops/dropout.hpp)
layout(constant_id = 2) const bool RELU = false;

#if DRAWS_AT_ONCE > 1
// dropout_interleaved.comp and its twin dropout_interleaved_u64.comp (QUAD_PAIR_STORES): quad_sets.glsl's constants
// PARTIAL, CONTIGUOUS and LONE_QUAD follow this kernel's own (constant_id 3-5); a set's quads are drawn together.
#define QUAD_SET_CONSTANTS 3
#include "quad_sets.glsl"
#if DRAWS_AT_ONCE != QUAD_SET
#error "dropout_interleaved draws the QUAD_SET quads of an invocation's set together"
#endif
#define PHILOX_CHAINS DRAWS_AT_ONCE  // dropout_keep4_interleaved for this many quads
#else
#define QUAD_STORE_TYPE vec4
#endif
#include "dropout_mask.glsl"

layout(binding = 0, r32f) readonly uniform imageBuffer X;           // (n)
layout(binding = 1) writeonly buffer Y { float y[]; };              // (n); may be the same memory as x
layout(binding = 2) readonly buffer Step { uint step[]; };          // (2): the 64-bit step counter, low word first
layout(binding = 3, rgba32f) readonly uniform imageBuffer X4;       // (n / 4): x's whole quads
layout(binding = 4) writeonly buffer Y4 { QUAD_STORE_TYPE y4[]; };  // (n / 4): y's whole quads
layout(push_constant) uniform Params {
  uint seed_lo;    // 64-bit seed, low word
  uint seed_hi;    // and high word
  uint n;          // element count
  uint layer;      // the dropout layer's id
  uint threshold;  // keep iff (word >> 8) < threshold; ref::keep_threshold(p)
  float scale;     // applied to kept elements; ref::dropout_scale(p, scaling, training)
};

#if DRAWS_AT_ONCE > 1
#define QUAD_SET_FLOATS y
#define QUAD_SET_QUADS y4
#include "quad_set_stores.glsl"
#endif

// Quad q of the result (q < whole) for keep decisions `keep`.
vec4 dropout_quad(uint q, float factor, bvec4 keep) {
  vec4 v = imageLoad(X4, int(q));
  if (RELU) v = mix(vec4(0.0), v, greaterThan(v, vec4(0.0)));
  return mix(vec4(0.0), v * factor, keep);  // mix with a bool is a select
}

// The last, partial quad `whole` (elements 4 * whole .. count - 1, one to three).
void write_partial_quad(uint whole, uint count, float factor, bvec4 keep) {
  const uint i = whole << 2;
  [[unroll]] for (uint k = 0u; k < 3u; ++k) {
    if (i + k < count) {
      float v = imageLoad(X, int(i + k)).x;
      if (RELU) v = v > 0.0 ? v : 0.0;
      y[i + k] = mix(0.0, v * factor, keep[k]);
    }
  }
}

void main() {
  const uvec2 seed = uvec2(seed_lo, seed_hi);
  // The step lives in device memory so one recorded training step replays with a new mask each time.
  const uvec2 current_step = uvec2(step[0], step[1]);
  const uint count = n;
  const uint layer_id = layer;
  const uint keep_below = threshold;
  const float factor = scale;
  const uint whole = count >> 2, quads = whole + ((count & 3u) != 0u ? 1u : 0u);  // n + 3 may overflow
#if DRAWS_AT_ONCE == 1
  // A grid-stride loop, one quad an iteration (ops::quad_groups sizes the grid).
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint q = gl_GlobalInvocationID.x; q < quads; q += stride) {
    const bvec4 keep = DRAW_MASK ? dropout_keep4(seed, current_step, layer_id, q, keep_below) : bvec4(true);
    if (q < whole) {
      y4[q] = dropout_quad(q, factor, keep);
    } else {
      write_partial_quad(whole, count, factor, keep);
    }
  }
#else
  // No loop (quad_sets.glsl): the four quads of this invocation's set, drawn together.
  uint set[DRAWS_AT_ONCE];
  [[unroll]] for (uint i = 0; i < DRAWS_AT_ONCE; ++i) set[i] = set_quad(i);
  bvec4 keep[DRAWS_AT_ONCE];
  if (DRAW_MASK) {
    dropout_keep4_interleaved(seed, current_step, layer_id, set, keep_below, keep);
  } else {
    [[unroll]] for (uint i = 0; i < DRAWS_AT_ONCE; ++i) keep[i] = bvec4(true);
  }
  vec4 value[QUAD_SET];
  [[unroll]] for (uint i = 0; i < DRAWS_AT_ONCE; ++i) {
    value[i] = vec4(0.0);
    if (set[i] < whole) value[i] = dropout_quad(set[i], factor, keep[i]);
  }
  store_quad_set(value, whole);
  if (PARTIAL) {
    const uint slot = set_slot(whole);
    if (slot < QUAD_SET) write_partial_quad(whole, count, factor, keep[slot]);
  }
#endif
}

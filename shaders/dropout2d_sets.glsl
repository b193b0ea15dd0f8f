// The body of dropout2d_sets.comp and dropout2d_sets_u64.comp, which differ only in how quads are stored
// (QUAD_PAIR_STORES: vec4s, or a lane's neighbouring quads as one u64vec4 of the same bits; see
// quad_set_stores.glsl for why that is faster on lavapipe).
//
// Channel-wise dropout (Dropout2d / Dropout1d), forward and backward, on CPU devices, where a channel's S elements
// are whole quads (S % 4 == 0): y = keep[channel] ? x * scale : 0, one keep decision per channel n*C + c, the
// mask contract of dropout2d.comp (reference/dropout2d.hpp is the spec). lavapipe pays for every loop iteration
// and runs both sides of every branch, and dropout2d.comp's runs of work items redraw their channel quad's
// decisions under a branch, so here an invocation takes a fixed block without a loop: the four channels of one
// channel quad Q (one Philox call gives their four decisions) at four consecutive positions (quads of elements)
// 4t .. 4t + 3, sixteen quads for one draw. The grid (ops::loop_free_groups) has an invocation for every (Q, t):
// item = Q * sets + t, sets = ceil(S / 16) position sets a channel quad. A channel quad past the last channel and
// a set past the channel's last quad are compiled in only where the shape has them (PARTIAL_CHANNELS,
// PARTIAL_SET).
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = 0) in;                            // workgroup size
layout(constant_id = 1) const bool PARTIAL_CHANNELS = false;  // N*C % 4 != 0: the last channel quad is partial
layout(constant_id = 2) const bool PARTIAL_SET = false;       // (S / 4) % 4 != 0: a channel's last set is partial

#include "fast_divide.glsl"
#include "dropout_mask.glsl"

#if QUAD_PAIR_STORES
#define QUAD_STORE_TYPE u64vec4  // pairs of quads; ops/dropout.cpp picks this twin only where S / 4 is even
#else
#define QUAD_STORE_TYPE vec4
#endif

layout(binding = 0, rgba32f) readonly uniform imageBuffer X4;       // (N*C, S / 4)
layout(binding = 1) writeonly buffer Y4 { QUAD_STORE_TYPE y4[]; };  // (N*C, S / 4); may be the same memory as x
layout(binding = 2) readonly buffer Step { uint step[]; };          // (2): the 64-bit step counter, low word first
layout(push_constant) uniform Params {
  uint seed_lo;    // 64-bit seed, low word
  uint seed_hi;    // and high word
  uint channels;   // N*C; the mask element of channel c of sample n is n*C + c
  uint quads;      // S / 4, quads per channel
  uint layer;      // the dropout layer's id
  uint threshold;  // keep iff (word >> 8) < threshold; ref::keep_threshold(p)
  float scale;     // applied to kept elements; ref::dropout_scale(p, scaling, true)
  uint items;      // channel quads * sets
  uvec2 by_sets;   // the divisor sets = ceil(quads / 4) (fast_divide.glsl)
  uint sets;
};

void main() {
  // Push constants are read once, outside all control flow (inside it, llvmpipe gathers them per lane).
  const uvec2 seed = uvec2(seed_lo, seed_hi), current_step = uvec2(step[0], step[1]);
  const uint channel_count = channels, size = quads, item_count = items, set_count = sets;
  const uvec2 div_sets = by_sets;
  const uint layer_id = layer, keep_below = threshold;
  const float factor = scale;
  // The flattened 2-D grid (ops::loop_free_groups); invocations past the last item take none.
  const uint item = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * gl_WorkGroupSize.x +
                    gl_LocalInvocationID.x;
  const uint quad = fast_divide(item, div_sets), set = item - quad * set_count;
  const bvec4 keep = dropout_keep4(seed, current_step, layer_id, quad, keep_below);
  const uint first = 4u * set;  // the set's first position
  [[unroll]] for (uint k = 0; k < 4; ++k) {
    const uint channel = 4u * quad + k;
    if (item < item_count && (!PARTIAL_CHANNELS || channel < channel_count)) {
      const uint base = channel * size + first;
      vec4 value[4];
      [[unroll]] for (uint i = 0; i < 4; ++i) {
        value[i] = vec4(0.0);
        if (!PARTIAL_SET || first + i < size) {
          value[i] = mix(vec4(0.0), imageLoad(X4, int(base + i)) * factor, bvec4(keep[k]));  // a select
        }
      }
#if QUAD_PAIR_STORES
      // base is even (size is), so quads base + 2h, base + 2h + 1 are one aligned pair; with an even size a set's
      // quads run out in whole pairs.
      [[unroll]] for (uint h = 0; h < 2; ++h) {
        if (!PARTIAL_SET || first + 2u * h < size) {
          const uvec4 a = floatBitsToUint(value[2 * h]), b = floatBitsToUint(value[2 * h + 1]);
          y4[(base >> 1) + h] =
              u64vec4(packUint2x32(a.xy), packUint2x32(a.zw), packUint2x32(b.xy), packUint2x32(b.zw));
        }
      }
#else
      [[unroll]] for (uint i = 0; i < 4; ++i) {
        if (!PARTIAL_SET || first + i < size) y4[base + i] = value[i];
      }
#endif
    }
  }
}

#version 450
#extension GL_GOOGLE_include_directive : require
// Channel-wise dropout (Dropout2d / Dropout1d), forward and backward: x (N, C, H, W) or (N, C, L) is seen
// as N*C channels of S = H*W or L elements; one keep decision per channel, shared by its S elements:
// y = keep[channel] ? x * scale : 0. Backward is the same computation on (dy -> dx) with the forward's
// (seed, step, layer). The spec of this shader is reference/dropout2d.hpp. Eval mode is element-wise and
// uses dropout.comp.
//
// Each work item is one position of one channel quad 4Q .. 4Q+3 (the channels whose decisions one Philox
// call yields). When S is a multiple of four a position is a quad of elements, read and written through the
// vec4 bindings (ops/quads.hpp); otherwise it is one element. Work item (Q, s) touches position s of the four
// channels. An invocation takes `run` consecutive work items at a time and draws the decisions again only
// when its channel quad changes: with run = 1 (GPUs) neighbouring invocations take neighbouring positions, so
// each of the four accesses is contiguous across a subgroup; with run = 4 (lavapipe, which loads and stores
// lane by lane anyway) one Philox call serves about four work items instead of one. A dropped element is
// written as +0 by a select, so p = 1 gives exact zeros even for inf or NaN inputs.
layout(local_size_x_id = 0) in;  // workgroup size

#include "dropout_mask.glsl"

layout(binding = 0, r32f) readonly uniform imageBuffer X;      // (channels, spatial)
layout(binding = 1) writeonly buffer Y { float y[]; };         // (channels, spatial); may be the same memory as x
layout(binding = 2) readonly buffer Step { uint step[]; };     // (2): the 64-bit step counter, low word first
layout(binding = 3, rgba32f) readonly uniform imageBuffer X4;  // (channels, spatial / 4), read if S % 4 == 0
layout(binding = 4) writeonly buffer Y4 { vec4 y4[]; };        // (channels, spatial / 4), written if S % 4 == 0
layout(push_constant) uniform Params {
  uint seed_lo;    // 64-bit seed, low word
  uint seed_hi;    // and high word
  uint channels;   // N*C; the mask element of channel c of sample n is n*C + c
  uint spatial;    // S, elements per channel (>= 1)
  uint layer;      // the dropout layer's id
  uint threshold;  // keep iff (word >> 8) < threshold; ref::keep_threshold(p)
  float scale;     // applied to kept elements; ref::dropout_scale(p, scaling, true)
  uint run;        // consecutive work items per invocation at a time (>= 1)
};

void main() {
  // Push constants are read once, outside all control flow (inside it, llvmpipe gathers them per lane).
  const uvec2 seed = uvec2(seed_lo, seed_hi);
  // The step lives in device memory so one recorded training step replays with a new mask each time.
  const uvec2 current_step = uvec2(step[0], step[1]);
  const uint channel_count = channels;
  const uint layer_id = layer;
  const uint keep_below = threshold;
  const float factor = scale;
  const uint channel_quads = (channel_count >> 2) + ((channel_count & 3u) != 0u ? 1u : 0u);

  const bool by_quads = (spatial & 3u) == 0u;
  const uint size = by_quads ? spatial >> 2 : spatial;  // positions per channel

  // Work item t = Q*size + s. Invocation i of workgroup g takes items g*W*run + i*run .. + run - 1, then
  // the same a grid further on; (Q, s) advance without a division per step.
  const uint items_per_run = run;
  const uint jump = gl_NumWorkGroups.x * gl_WorkGroupSize.x * items_per_run;
  const uint jump_quads = jump / size, jump_rest = jump - jump_quads * size;
  const uint first = (gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * items_per_run;
  uint run_quad = first / size;
  uint run_s = first - run_quad * size;
  uint drawn = 0xFFFFFFFFu;  // the channel quad whose decisions `keep` holds; none yet
  bvec4 keep = bvec4(false);
  while (run_quad < channel_quads) {
    uint quad = run_quad, s = run_s;
    for (uint j = 0u; j < items_per_run && quad < channel_quads; ++j) {
      if (quad != drawn) {
        keep = dropout_keep4(seed, current_step, layer_id, quad, keep_below);
        drawn = quad;
      }
      const uint first_channel = quad << 2;
      const uint base = first_channel * size + s;
      const uint in_quad = min(channel_count - first_channel, 4u);  // the last channel quad may be partial
      for (uint k = 0u; k < in_quad; ++k) {
        const uint i = base + k * size;
        if (by_quads) {
          y4[i] = mix(vec4(0.0), imageLoad(X4, int(i)) * factor, bvec4(keep[k]));  // mix with a bool is a select
        } else {
          y[i] = mix(0.0, imageLoad(X, int(i)).x * factor, keep[k]);
        }
      }
      if (++s == size) {
        s = 0u;
        ++quad;
      }
    }
    run_s += jump_rest;
    run_quad += jump_quads;
    if (run_s >= size) {
      run_s -= size;
      ++run_quad;
    }
  }
}

#version 450
#extension GL_EXT_control_flow_attributes : require
// Max pooling backward where the windows tile the input exactly (kernel = stride, no padding, H = OH·KH,
// W = OW·KW: MaxPool2d(2) on an even input, the common case): every input element lies in exactly one
// window, so one invocation per output writes its whole window, dy where the forward took its maximum and 0
// elsewhere. The same values as max_pool2d_backward.comp's gather (a sum of the one output that covers each
// element), with a third of its loads and no division per input element (an output's indices come from
// fast_divide.glsl: lavapipe divides lane by lane; storing a window row's pairs as vec2 was no faster).
// reference/max_pool2d.hpp (max_pool2d_backward) is the spec. Written (=).
layout(local_size_x_id = 0) in;  // workgroup size
// The window, fixed per pipeline: its loops unroll into KH * KW stores.
layout(constant_id = 1) const uint KH = 2;
layout(constant_id = 2) const uint KW = 2;

layout(binding = 0, r32f) readonly uniform imageBuffer DY;      // (planes, OH, OW)
layout(binding = 1, r32ui) readonly uniform uimageBuffer Argmax;  // (planes, OH, OW): the forward's choices
layout(binding = 2) writeonly buffer DX { float dx[]; };     // (planes, H, W)
layout(push_constant) uniform Params {
  uvec2 by_ow, by_oh;  // divisors (fast_divide.glsl) of OW and OH
  uint outputs;  // planes * OH * OW
  uint H, W, OH, OW;
  uint kernel_h, kernel_w;
};

#extension GL_GOOGLE_include_directive : require
#include "fast_divide.glsl"

void main() {
  // Push constants are read once, outside control flow (inside it, llvmpipe gathers them per lane); the window
  // comes from the KH and KW constants (kernel_h and kernel_w stay in the block, which the host fills).
  const uint count = outputs, h = H, w = W, oh_count = OH, ow_count = OW;
  const uvec2 ow_divisor = by_ow, oh_divisor = by_oh;
  // No loop over outputs (a loop costs lavapipe per iteration): an invocation per output on the grid of
  // ops::loop_free_groups, flattened.
  const uint o =
      (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  if (o < count) {
    const uint ohp = fast_divide(o, ow_divisor), plane = fast_divide(ohp, oh_divisor);
    const uint ow = o - ohp * ow_count, oh = ohp - plane * oh_count;
    const uint chosen = imageLoad(Argmax, int(o)).x;
    const float g = 0.0 + imageLoad(DY, int(o)).x;  // as the gather's sum: -0 becomes +0
    const uint base = plane * h * w;
    // The window as a fixed grid: uniform trip counts (lavapipe runs loops whose bounds differ by lane under
    // masks at a cost).
    [[unroll]] for (uint a = 0; a < KH; ++a) {
      [[unroll]] for (uint b = 0; b < KW; ++b) {
        const uint me = (oh * KH + a) * w + ow * KW + b;
        dx[base + me] = me == chosen ? g : 0.0;
      }
    }
  }
}

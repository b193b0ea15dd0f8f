#version 450
// Max pooling forward (torch.nn.MaxPool2d, dilation 1, ceil_mode=False); reference/max_pool2d.hpp is its spec.
// Each output: y = the maximum of its window, argmax = the plane-local index ih*W + iw of the element taken.
// Invocations take quads of four consecutive outputs through a grid-stride loop and write them with one vec4
// and one uvec4 store (ops/quads.hpp); a quad's first index is taken apart once (fast_divide.glsl: lavapipe
// divides lane by lane), the next three stepped to.
// Padding never wins (it acts as -inf). In row-major window order an element replaces the running maximum
// when it is greater or NaN, as PyTorch's CPU kernel: ties go to the first maximal element, a NaN propagates,
// and a window of -inf takes its first element.
layout(local_size_x_id = 0) in;  // workgroup size
// 1: the window is FIXED_KH x FIXED_KW (ops/max_pool2d.cpp: up to 25 elements) and every quad computes four outputs,
// all loops unrolled (lavapipe pays for a loop with a run-time trip count: its masks, its counter); the outputs of a
// partial last quad past the end read a clamped plane and are not stored.
layout(constant_id = 1) const uint FIXED = 0;
layout(constant_id = 2) const uint FIXED_KH = 2;
layout(constant_id = 3) const uint FIXED_KW = 2;

layout(binding = 0, r32f) readonly uniform imageBuffer X;        // (planes, H, W)
layout(binding = 1) writeonly buffer Y { float y[]; };       // (planes, OH, OW)
layout(binding = 2) writeonly buffer Argmax { uint am[]; };  // (planes, OH, OW)
layout(binding = 3) writeonly buffer Y4 { vec4 y4[]; };          // y's whole quads
layout(binding = 4) writeonly buffer Argmax4 { uvec4 am4[]; };   // argmax's whole quads
layout(push_constant) uniform Params {
  uvec2 by_ow, by_oh;  // divisors (fast_divide.glsl) of OW and OH
  uint outputs;  // planes * OH * OW
  uint H, W, OH, OW;
  uint kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
};

#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "fast_divide.glsl"

void main() {
  // Push constants are read once, outside the loop (inside it, llvmpipe gathers them per lane).
  const uint count = outputs, h = H, w = W, oh_count = OH, ow_count = OW;
  const uvec2 ow_divisor = by_ow, oh_divisor = by_oh;
  const int kh = int(kernel_h), kw = int(kernel_w), sh = int(stride_h), sw = int(stride_w);
  const int ph = int(pad_h), pw = int(pad_w);
  const float minus_inf = uintBitsToFloat(0xff800000u);
  const uint whole = count >> 2, quads = whole + ((count & 3u) != 0u ? 1u : 0u);
  const int window_h = FIXED == 1u ? int(FIXED_KH) : kh, window_w = FIXED == 1u ? int(FIXED_KW) : kw;
  const uint last_plane = FIXED == 1u ? count / (oh_count * ow_count) - 1u : 0u;
  for (uint q = gl_GlobalInvocationID.x; q < quads; q += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    const uint o = q << 2;
    const uint ohp = fast_divide(o, ow_divisor), plane_first = fast_divide(ohp, oh_divisor);
    uint ow = o - ohp * ow_count, oh = ohp - plane_first * oh_count, plane = plane_first;
    const uint outputs_here = min(count - o, 4u);  // the last quad may be partial
    vec4 bests = vec4(0.0);
    uvec4 chosen = uvec4(0u);
    [[unroll]] for (uint k = 0u; k < (FIXED == 1u ? 4u : outputs_here); ++k) {
      const int h_start = int(oh) * sh - ph, w_start = int(ow) * sw - pw;
      const uint h0 = uint(max(h_start, 0));
      const uint w0 = uint(max(w_start, 0));
      const uint base = (FIXED == 1u ? min(plane, last_plane) : plane) * h * w;
      float best = minus_inf;
      uint best_index = h0 * w + w0;
      // The window as a fixed grid (uniform trip counts, no branch per element: lavapipe runs loops whose
      // bounds differ by lane, and branches, under masks at a cost); padding is skipped by a select.
      [[unroll]] for (int a = 0; a < window_h; ++a) {
        const int ih = h_start + a;
        [[unroll]] for (int b = 0; b < window_w; ++b) {
          const int iw = w_start + b;
          const bool inside = ih >= 0 && ih < int(h) && iw >= 0 && iw < int(w);
          const uint at = inside ? uint(ih) * w + uint(iw) : 0u;
          const float v = imageLoad(X, int(base + at)).x;
          const bool take = inside && (v > best || isnan(v));
          best = take ? v : best;
          best_index = take ? at : best_index;
        }
      }
      bests[k] = best;
      chosen[k] = best_index;
      // Step to the next output by selects: the lanes' quads wrap rows and planes at different outputs.
      ++ow;
      const bool next_row = ow == ow_count;
      ow = next_row ? 0u : ow;
      oh += next_row ? 1u : 0u;
      const bool next_plane = oh == oh_count;
      oh = next_plane ? 0u : oh;
      plane += next_plane ? 1u : 0u;
    }
    if (q < whole) {
      y4[q] = bests;
      am4[q] = chosen;
    } else {
      for (uint k = 0u; k < outputs_here; ++k) {
        y[o + k] = bests[k];
        am[o + k] = chosen[k];
      }
    }
  }
}

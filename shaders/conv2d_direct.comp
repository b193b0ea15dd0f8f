#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// A 2-D convolution (NCHW) computed directly, for kernels of few taps T = C·KH·KW (a network's first layer, on
// one or three channels; ops/conv2d.cpp picks it): reference/conv2d.hpp is the spec,
//   y[n][oc][oh][ow] = (Σ_t weight[oc][t] · x_t(n, oh, ow)) + bias[oc],   t = (c·KH + kh)·KW + kw ascending,
// x_t the input value under tap t (0 in the padding), as im2col.comp would copy it. Where im2col + matmul +
// block_transpose write and read an intermediate (P, T) and (OC, P) matrix for a product whose K is T, this
// reads each item's taps once, keeps them in registers for every output channel and writes y itself.
//
// An item is POSITIONS consecutive output positions of one sample: 16 or 4 (y written a quad at a time,
// ops/quads.hpp) when OH·OW is a multiple of that, else 1. The more positions, the more products each weight
// loaded serves (on lavapipe a load of one address for all lanes costs what a gather does). Items go through a
// grid-stride loop.
layout(local_size_x_id = 0) in;  // workgroup size
layout(constant_id = 1) const uint C = 1;         // input channels
layout(constant_id = 2) const uint KH = 1;        // kernel
layout(constant_id = 3) const uint KW = 1;
layout(constant_id = 4) const uint HAS_BIAS = 0;  // 1: add bias[oc]
layout(constant_id = 5) const uint POSITIONS = 1;  // 1, 4 or 16 output positions an item; OH·OW % POSITIONS == 0
const uint TAPS = C * KH * KW;
const uint QUADS = POSITIONS / 4;

#include "fast_divide.glsl"

layout(binding = 0, r32f) readonly uniform imageBuffer X;       // (N, C, H, W)
layout(binding = 1, r32f) readonly uniform imageBuffer Weight;  // (OC, C, KH, KW)
layout(binding = 2, r32f) readonly uniform imageBuffer Bias;    // (OC), read if HAS_BIAS
layout(binding = 3) writeonly buffer Y { float y[]; };          // (N, OC, OH, OW)
layout(binding = 4) writeonly buffer Y4 { vec4 y4[]; };         // (N, OC, OH·OW / 4), written if POSITIONS >= 4
layout(push_constant) uniform Params {
  uint items;              // N·OH·OW / POSITIONS
  uint C_, H, W;           // input channels (C, as a specialization constant, is what is used) and size
  uint OH, OW;             // output size (at least 1)
  uint KH_, KW_;           // the kernel (KH, KW are what is used)
  uint stride_h, stride_w;
  int pad_h, pad_w;        // the padded extents fit in an int (ops/conv2d.cpp)
  uint dil_h, dil_w;
  uvec2 by_ow, by_oh, by_kw, by_kh, by_w, by_h, by_c;  // divisors (fast_divide.glsl); by_ow and by_oh are used
  uint out_channels;       // OC
};

void main() {
  // Push constants are read once, outside the loops (inside them, llvmpipe gathers them per lane).
  const uint n_items = items, height = H, width = W, out_h = OH, out_w = OW, channels_out = out_channels;
  const int s_h = int(stride_h), s_w = int(stride_w), d_h = int(dil_h), d_w = int(dil_w), p_h = pad_h, p_w = pad_w;
  const uvec2 div_ow = by_ow, div_oh = by_oh;
  const uint plane_in = height * width, plane_out = out_h * out_w;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint j = gl_GlobalInvocationID.x; j < n_items; j += stride) {
    const uint first = j * POSITIONS;  // (n·OH + oh)·OW + ow of the item's first position
    float taps[POSITIONS * TAPS];      // [e·TAPS + t]: tap t of position first + e
    uint n = 0u;
    [[unroll]] for (uint e = 0u; e < POSITIONS; ++e) {
      const uint position = first + e, noh = fast_divide(position, div_ow), n_at = fast_divide(noh, div_oh);
      const int ih0 = int(noh - n_at * out_h) * s_h - p_h, iw0 = int(position - noh * out_w) * s_w - p_w;
      if (e == 0u) n = n_at;  // the item's positions share it (OH·OW % POSITIONS == 0)
      [[unroll]] for (uint c = 0u; c < C; ++c) {
        [[unroll]] for (uint kh = 0u; kh < KH; ++kh) {
          const int ih = ih0 + int(kh) * d_h;
          [[unroll]] for (uint kw = 0u; kw < KW; ++kw) {
            const int iw = iw0 + int(kw) * d_w;
            const bool inside = ih >= 0 && ih < int(height) && iw >= 0 && iw < int(width);
            const int index = int((n_at * C + c) * plane_in) + ih * int(width) + iw;
            taps[e * TAPS + (c * KH + kh) * KW + kw] = inside ? imageLoad(X, index).x : 0.0;
          }
        }
      }
    }
    const uint in_plane = first - n * plane_out;  // the item's place in its output plane
    for (uint oc = 0u; oc < channels_out; ++oc) {
      const uint base = (n * channels_out + oc) * plane_out + in_plane;
      if (POSITIONS >= 4) {
        float w[TAPS];
        [[unroll]] for (uint t = 0u; t < TAPS; ++t) w[t] = imageLoad(Weight, int(oc * TAPS + t)).x;
        const float b = HAS_BIAS == 1 ? imageLoad(Bias, int(oc)).x : 0.0;
        [[unroll]] for (uint q = 0u; q < QUADS; ++q) {
          vec4 sum = vec4(0.0);
          [[unroll]] for (uint t = 0u; t < TAPS; ++t) {
            const uint at = 4u * q * TAPS + t;
            sum += w[t] * vec4(taps[at], taps[at + TAPS], taps[at + 2u * TAPS], taps[at + 3u * TAPS]);
          }
          if (HAS_BIAS == 1) sum += b;
          y4[(base >> 2) + q] = sum;
        }
      } else {
        float sum = 0.0;
        [[unroll]] for (uint t = 0u; t < TAPS; ++t) sum += imageLoad(Weight, int(oc * TAPS + t)).x * taps[t];
        if (HAS_BIAS == 1) sum += imageLoad(Bias, int(oc)).x;
        y[base] = sum;
      }
    }
  }
}

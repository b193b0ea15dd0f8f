#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// The weight and bias gradients of a 2-D convolution (NCHW) of few taps T = C·KH·KW, computed directly
// (conv2d_direct.comp's backward; ops/conv2d.cpp picks it on CPU devices): reference/conv2d.hpp is the spec,
//   dweight[oc][t] = Σ over n, oh, ow of dy[n][oc][oh][ow] · x_t(n, oh, ow),   dbias[oc] = Σ of dy[n][oc][oh][ow],
// x_t the input value under tap t = (c·KH + kh)·KW + kw (0 in the padding), as im2col.comp would copy it.
// Where the product route copies x to cols (P, T), moves dy to channel-major rows (OC, P), multiplies them
// (K = P = N·OH·OW, the longest dimension) and sums rows for the bias, this reads x and dy where they lie, each
// position's taps once for OC_BLOCK output channels.
//
// One workgroup per block of OC_BLOCK output channels (a grid-stride loop covers any count): invocation i takes
// positions i, i + WG, i + 2·WG, ... and keeps OC_BLOCK·(T + 1) sums in registers; a shared-memory tree then
// adds the WG partial sums of each, one output channel at a time. Every order depends on the shapes and WG
// alone: the same bits on every run and at every subgroup size. Written (=).
layout(local_size_x_id = 0) in;                   // WG: a power of two
layout(constant_id = 1) const uint C = 1;         // input channels
layout(constant_id = 2) const uint KH = 1;        // kernel
layout(constant_id = 3) const uint KW = 1;
layout(constant_id = 4) const uint HAS_BIAS = 0;  // 1: write dbias too
layout(constant_id = 5) const uint OC_BLOCK = 1;  // output channels a workgroup takes at once
const uint TAPS = C * KH * KW;
const uint SUMS = TAPS + 1;  // an output channel's: T weights' and its bias's

#include "fast_divide.glsl"

layout(binding = 0, r32f) readonly uniform imageBuffer X;     // (N, C, H, W): the forward's input
layout(binding = 1, r32f) readonly uniform imageBuffer DY;    // (N, OC, OH, OW)
layout(binding = 2) writeonly buffer DWeight { float dw[]; };  // (OC, C, KH, KW)
layout(binding = 3) writeonly buffer DBias { float db[]; };    // (OC), written if HAS_BIAS
layout(push_constant) uniform Params {  // conv2d_direct.comp's
  uint items;              // N·OH·OW
  uint C_, H, W;           // input channels (C, as a specialization constant, is what is used) and size
  uint OH, OW;             // output size (at least 1)
  uint KH_, KW_;           // the kernel (KH, KW are what is used)
  uint stride_h, stride_w;
  int pad_h, pad_w;        // the padded extents fit in an int (ops/conv2d.cpp)
  uint dil_h, dil_w;
  uvec2 by_ow, by_oh, by_kw, by_kh, by_w, by_h, by_c;  // divisors (fast_divide.glsl); by_ow and by_oh are used
  uint out_channels;       // OC
};

shared float s_sums[SUMS * gl_WorkGroupSize.x];  // [s·WG + i]: sum s of invocation i

void main() {
  // Push constants are read once, outside the loops (inside them, llvmpipe gathers them per lane).
  const uint positions = items, height = H, width = W, out_h = OH, out_w = OW, channels_out = out_channels;
  const int s_h = int(stride_h), s_w = int(stride_w), d_h = int(dil_h), d_w = int(dil_w), p_h = pad_h, p_w = pad_w;
  const uvec2 div_ow = by_ow, div_oh = by_oh;
  const uint plane_in = height * width, plane_out = out_h * out_w;
  const uint tid = gl_LocalInvocationID.x;
  for (uint first = gl_WorkGroupID.x * OC_BLOCK; first < channels_out; first += gl_NumWorkGroups.x * OC_BLOCK) {
    float sums[OC_BLOCK * SUMS];  // [o·SUMS + s]: output channel first + o
    [[unroll]] for (uint k = 0u; k < OC_BLOCK * SUMS; ++k) sums[k] = 0.0;
    for (uint position = tid; position < positions; position += gl_WorkGroupSize.x) {
      const uint noh = fast_divide(position, div_ow), n = fast_divide(noh, div_oh);
      const uint oh = noh - n * out_h, ow = position - noh * out_w;
      const int ih0 = int(oh) * s_h - p_h, iw0 = int(ow) * s_w - p_w;
      float taps[TAPS];
      [[unroll]] for (uint c = 0u; c < C; ++c) {
        [[unroll]] for (uint kh = 0u; kh < KH; ++kh) {
          const int ih = ih0 + int(kh) * d_h;
          [[unroll]] for (uint kw = 0u; kw < KW; ++kw) {
            const int iw = iw0 + int(kw) * d_w;
            const bool inside = ih >= 0 && ih < int(height) && iw >= 0 && iw < int(width);
            const int index = int((n * C + c) * plane_in) + ih * int(width) + iw;
            taps[(c * KH + kh) * KW + kw] = inside ? imageLoad(X, index).x : 0.0;
          }
        }
      }
      const uint at = n * channels_out * plane_out + (position - n * plane_out);  // dy[n][0][oh][ow]
      [[unroll]] for (uint o = 0u; o < OC_BLOCK; ++o) {
        const bool real = first + o < channels_out;  // the last block may be partial
        const float g = real ? imageLoad(DY, int(at + (first + o) * plane_out)).x : 0.0;
        [[unroll]] for (uint t = 0u; t < TAPS; ++t) sums[o * SUMS + t] += g * taps[t];
        sums[o * SUMS + TAPS] += g;
      }
    }
    [[unroll]] for (uint o = 0u; o < OC_BLOCK; ++o) {
      [[unroll]] for (uint s = 0u; s < SUMS; ++s) s_sums[s * gl_WorkGroupSize.x + tid] = sums[o * SUMS + s];
      barrier();
      for (uint stride = gl_WorkGroupSize.x / 2u; stride > 0u; stride /= 2u) {
        if (tid < stride) {
          [[unroll]] for (uint s = 0u; s < SUMS; ++s)
            s_sums[s * gl_WorkGroupSize.x + tid] += s_sums[s * gl_WorkGroupSize.x + tid + stride];
        }
        barrier();
      }
      const uint oc = first + o;
      if (oc < channels_out && tid < SUMS) {
        const float total = s_sums[tid * gl_WorkGroupSize.x];
        if (tid < TAPS) {
          dw[oc * TAPS + tid] = total;
        } else if (HAS_BIAS == 1) {
          db[oc] = total;
        }
      }
      barrier();  // the totals are read before the next channel's sums overwrite them
    }
  }
}

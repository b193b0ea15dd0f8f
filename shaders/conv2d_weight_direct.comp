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
// items i, i + WG, i + 2·WG, ... and keeps OC_BLOCK·(T + 1) sums in registers; a shared-memory tree then
// adds the WG partial sums of each, one output channel at a time. Every order depends on the shapes and WG
// alone: the same bits on every run and at every subgroup size. Written (=).
//
// An item is one output position, or (QUADS = 1: stride_w 1, and OW and W multiples of 4) a quad of four
// along ow. A quad's taps come from whole quads of x rows and its dy from one quad per output channel, read
// as rgba32f texels: where lavapipe loads a float texel for 16 lanes one lane at a time, a vec4 texel costs
// about the same and brings four values (the sample CNN's 1 -> 32 conv at 16 lanes: 13 loads for four
// positions instead of 52). The quads of a row never straddle its edge (W % 4 == 0), so each lies wholly in the
// row or wholly in the padding; which columns a position's taps take from the loaded run is fixed by PAD_W and
// DIL_W, specialization constants of the quad kernel.
layout(local_size_x_id = 0) in;                   // WG: a power of two
layout(constant_id = 1) const uint C = 1;         // input channels
layout(constant_id = 2) const uint KH = 1;        // kernel
layout(constant_id = 3) const uint KW = 1;
layout(constant_id = 4) const uint HAS_BIAS = 0;  // 1: write dbias too
layout(constant_id = 5) const uint OC_BLOCK = 1;  // output channels a workgroup takes at once
layout(constant_id = 6) const uint QUADS = 0;    // 1: an item is a quad of positions along ow (see above)
layout(constant_id = 7) const uint PAD_W = 0;    // QUADS = 1: pad_w and dil_w (the push constants otherwise)
layout(constant_id = 8) const uint DIL_W = 1;
const uint TAPS = C * KH * KW;
const uint SUMS = TAPS + 1;  // an output channel's: T weights' and its bias's
// QUADS = 1: a quad at ow reads row columns from ow - LEAD (a multiple of 4) on, RUN quads of them; tap kw of
// its position j is element OFF + j + kw·DIL_W of that run.
const uint LEAD = (PAD_W + 3u) / 4u * 4u;
const uint OFF = LEAD - PAD_W;
const uint RUN = (OFF + 3u + (KW - 1u) * DIL_W) / 4u + 1u;

#include "fast_divide.glsl"

layout(binding = 0, r32f) readonly uniform imageBuffer X;     // (N, C, H, W): the forward's input
layout(binding = 1, r32f) readonly uniform imageBuffer DY;    // (N, OC, OH, OW)
layout(binding = 2) writeonly buffer DWeight { float dw[]; };  // (OC, C, KH, KW)
layout(binding = 3) writeonly buffer DBias { float db[]; };    // (OC), written if HAS_BIAS
layout(binding = 4, rgba32f) readonly uniform imageBuffer X4;   // x again, as quads (read when QUADS = 1)
layout(binding = 5, rgba32f) readonly uniform imageBuffer DY4;  // dy again, as quads (read when QUADS = 1)
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
    for (uint item = tid; QUADS == 1u && item < positions / 4u; item += gl_WorkGroupSize.x) {
      const uint position = item * 4u;  // ow % 4 == 0: the quad is in one row
      const uint noh = fast_divide(position, div_ow), n = fast_divide(noh, div_oh);
      const uint oh = noh - n * out_h, ow = position - noh * out_w;
      const int ih0 = int(oh) * s_h - p_h, first_column = int(ow) - int(LEAD);
      float taps[4u * TAPS];  // [j·TAPS + t]: tap t of position ow + j
      [[unroll]] for (uint c = 0u; c < C; ++c) {
        [[unroll]] for (uint kh = 0u; kh < KH; ++kh) {
          const int ih = ih0 + int(kh) * d_h;
          const bool row_inside = ih >= 0 && ih < int(height);
          const int row = int((n * C + c) * plane_in) + ih * int(width);  // a multiple of 4 (W is)
          float run[4u * RUN];
          [[unroll]] for (uint q = 0u; q < RUN; ++q) {
            const int column = first_column + int(4u * q);
            const bool inside = row_inside && column >= 0 && column < int(width);
            const vec4 v = imageLoad(X4, inside ? (row + column) / 4 : 0);
            [[unroll]] for (uint e = 0u; e < 4u; ++e) run[4u * q + e] = inside ? v[e] : 0.0;
          }
          [[unroll]] for (uint j = 0u; j < 4u; ++j) {
            [[unroll]] for (uint kw = 0u; kw < KW; ++kw) taps[j * TAPS + (c * KH + kh) * KW + kw] = run[OFF + j + kw * DIL_W];
          }
        }
      }
      const uint at = n * channels_out * plane_out + (position - n * plane_out);  // dy[n][0][oh][ow], a multiple of 4
      [[unroll]] for (uint o = 0u; o < OC_BLOCK; ++o) {
        const bool real = first + o < channels_out;  // the last block may be partial
        const vec4 g = real ? imageLoad(DY4, int((at + (first + o) * plane_out) / 4u)) : vec4(0.0);
        [[unroll]] for (uint t = 0u; t < TAPS; ++t) {
          sums[o * SUMS + t] += g.x * taps[t] + g.y * taps[TAPS + t] + g.z * taps[2u * TAPS + t] + g.w * taps[3u * TAPS + t];
        }
        sums[o * SUMS + TAPS] += (g.x + g.y) + (g.z + g.w);
      }
    }
    for (uint position = tid; QUADS == 0u && position < positions; position += gl_WorkGroupSize.x) {
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

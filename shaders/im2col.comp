#version 450
// im2col for a 2-D convolution (NCHW), the first step of ops::conv2d_forward; reference/conv2d.hpp is the spec
// of the whole convolution. Each row of cols is one output position (n, oh, ow), each column one kernel tap
// (c, kh, kw) of the input under it, so that y = cols · weightᵀ is one matmul:
//   cols[(n·OH + oh)·OW + ow][(c·KH + kh)·KW + kw] = x[n][c][oh·stride_h - pad_h + kh·dil_h][ow·stride_w - pad_w + kw·dil_w],
// 0 where that lies in the padding.
//
// Integer division is expensive here (a CPU device runs it lane by lane), so an item is a run of consecutive
// elements of cols, taken apart once and stepped through without dividing. When a row of cols (C·KH·KW taps)
// is a whole number of quads, an item is a whole row (one output position), written with vec4 stores
// (ops/quads.hpp); otherwise an item is one (output position, channel): its KH·KW taps, written one by one.
// Items go through a grid-stride loop.
//
// With the kernel's size fixed at compile time (FIXED, FIXED_KH, FIXED_KW; ops/conv2d.cpp sets them when C is a multiple
// of 4 and the kernel small), an item is still one output position, but its taps go four channels at a time with
// every tap unrolled: which window rows and columns lie in the padding is decided once per position, each tap is
// a load and a select (no counters, no branches), and the four channels' KH·KW quads are stored whole. The sample
// CNN's 32-channel 3 x 3 im2col on lavapipe (bench_conv, alternating): 9.4-10.2 -> 7.9-8.7 ms at 4, 8 and 16 lanes;
// what is left is the loads (each tap a gather, lane by lane), not the stores (64-bit pair stores changed nothing).
layout(local_size_x_id = 0) in;  // workgroup size
layout(constant_id = 1) const uint FIXED = 0;     // 1: the kernel is FIXED_KH x FIXED_KW and C % 4 == 0
layout(constant_id = 2) const uint FIXED_KH = 3;  // read when FIXED = 1
layout(constant_id = 3) const uint FIXED_KW = 3;

layout(binding = 0, r32f) readonly uniform imageBuffer X;         // (N, C, H, W)
layout(binding = 1) writeonly buffer Cols { float cols[]; };  // (N·OH·OW, C·KH·KW)
layout(binding = 2) writeonly buffer Cols4 { vec4 cols4[]; };  // (N·OH·OW, C·KH·KW / 4), when C·KH·KW % 4 == 0
layout(push_constant) uniform Params {
  uint items;              // N·OH·OW when C·KH·KW % 4 == 0, else N·OH·OW·C
  uint C, H, W;            // input channels and size
  uint OH, OW;             // output size (at least 1)
  uint KH, KW;             // kernel
  uint stride_h, stride_w;
  int pad_h, pad_w;        // the padded extents H + 2·pad_h, W + 2·pad_w fit in an int (ops/conv2d.cpp)
  uint dil_h, dil_w;
  uvec2 by_ow, by_oh, by_kw, by_kh, by_w, by_h, by_c;  // divisors (fast_divide.glsl)
};

#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "fast_divide.glsl"

void main() {
  // Push constants are read once, outside the loops (inside them, llvmpipe gathers them per lane).
  const uint n_items = items, channels = C, height = H, width = W, out_h = OH, out_w = OW, k_h = KH, k_w = KW;
  const int s_h = int(stride_h), s_w = int(stride_w), d_h = int(dil_h), d_w = int(dil_w), p_h = pad_h, p_w = pad_w;
  const uvec2 div_ow = by_ow, div_oh = by_oh, div_c = by_c;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  const uint taps = channels * k_h * k_w;
  if (FIXED == 1u) {
    for (uint j = gl_GlobalInvocationID.x; j < n_items; j += stride) {
      const uint noh = fast_divide(j, div_ow), n = fast_divide(noh, div_oh), ow = j - noh * out_w, oh = noh - n * out_h;
      const int ih0 = int(oh) * s_h - p_h, iw0 = int(ow) * s_w - p_w;
      // The window's rows and columns: inside the input or not, and their offsets, clamped so that a tap in the
      // padding still loads from inside x (its value is then replaced by 0).
      bool row_inside[FIXED_KH], column_inside[FIXED_KW];
      uint row_offset[FIXED_KH], column_offset[FIXED_KW];
      [[unroll]] for (uint kh = 0u; kh < FIXED_KH; ++kh) {
        const int ih = ih0 + int(kh) * d_h;
        row_inside[kh] = ih >= 0 && ih < int(height);
        row_offset[kh] = uint(clamp(ih, 0, int(height) - 1)) * width;
      }
      [[unroll]] for (uint kw = 0u; kw < FIXED_KW; ++kw) {
        const int iw = iw0 + int(kw) * d_w;
        column_inside[kw] = iw >= 0 && iw < int(width);
        column_offset[kw] = uint(clamp(iw, 0, int(width) - 1));
      }
      const uint plane_size = height * width;
      uint plane = n * channels * plane_size;  // x[n][c]
      uint o = j * (taps >> 2);                // cols4[position][c·KH·KW / 4]
      for (uint c = 0u; c < channels; c += 4u) {
        float v[4u * FIXED_KH * FIXED_KW];  // channels c .. c + 3, their taps in cols' order
        [[unroll]] for (uint e = 0u; e < 4u; ++e) {
          [[unroll]] for (uint kh = 0u; kh < FIXED_KH; ++kh) {
            [[unroll]] for (uint kw = 0u; kw < FIXED_KW; ++kw) {
              const float t = imageLoad(X, int(plane + e * plane_size + row_offset[kh] + column_offset[kw])).x;
              v[(e * FIXED_KH + kh) * FIXED_KW + kw] = row_inside[kh] && column_inside[kw] ? t : 0.0;
            }
          }
        }
        [[unroll]] for (uint q = 0u; q < FIXED_KH * FIXED_KW; ++q)
          cols4[o + q] = vec4(v[4u * q], v[4u * q + 1u], v[4u * q + 2u], v[4u * q + 3u]);
        o += FIXED_KH * FIXED_KW;
        plane += 4u * plane_size;
      }
    }
    return;
  }
  if ((taps & 3u) == 0u) {
    for (uint j = gl_GlobalInvocationID.x; j < n_items; j += stride) {
      // j = (n·OH + oh)·OW + ow, taken apart with two divisions (fast_divide.glsl: lavapipe divides per lane).
      const uint noh = fast_divide(j, div_ow), n = fast_divide(noh, div_oh), ow = j - noh * out_w, oh = noh - n * out_h;
      const int ih0 = int(oh) * s_h - p_h, iw0 = int(ow) * s_w - p_w;  // the window's corner
      uint plane = n * channels * height * width;  // x[n][c], c = 0
      uint kh = 0u, kw = 0u;
      int ih = ih0, iw = iw0;
      for (uint t = 0u; t < taps >> 2; ++t) {
        vec4 v;
        for (uint k = 0u; k < 4u; ++k) {
          const bool inside = ih >= 0 && ih < int(height) && iw >= 0 && iw < int(width);
          v[k] = inside ? imageLoad(X, int(plane + uint(ih) * width + uint(iw))).x : 0.0;
          iw += d_w;  // step to the next tap: kw, then kh, then c
          if (++kw == k_w) {
            kw = 0u;
            iw = iw0;
            ih += d_h;
            if (++kh == k_h) {
              kh = 0u;
              ih = ih0;
              plane += height * width;
            }
          }
        }
        cols4[j * (taps >> 2) + t] = v;
      }
    }
    return;
  }
  for (uint j = gl_GlobalInvocationID.x; j < n_items; j += stride) {
    // j = ((n·OH + oh)·OW + ow)·C + c, taken apart with three divisions.
    const uint position = fast_divide(j, div_c), noh = fast_divide(position, div_ow), n = fast_divide(noh, div_oh);
    const uint c = j - position * channels, ow = position - noh * out_w, oh = noh - n * out_h;
    const uint plane = (n * channels + c) * height * width;  // x[n][c]
    uint o = j * k_h * k_w;                                  // cols[position][c·KH·KW]
    int ih = int(oh) * s_h - p_h;
    for (uint kh = 0; kh < k_h; ++kh, ih += d_h) {
      const bool row_inside = ih >= 0 && ih < int(height);
      int iw = int(ow) * s_w - p_w;
      for (uint kw = 0; kw < k_w; ++kw, iw += d_w, ++o) {
        const bool inside = row_inside && iw >= 0 && iw < int(width);
        cols[o] = inside ? imageLoad(X, int(plane + uint(ih) * width + uint(iw))).x : 0.0;
      }
    }
  }
}

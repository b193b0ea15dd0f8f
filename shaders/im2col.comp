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
layout(local_size_x_id = 0) in;  // workgroup size

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
#include "fast_divide.glsl"

void main() {
  // Push constants are read once, outside the loops (inside them, llvmpipe gathers them per lane).
  const uint n_items = items, channels = C, height = H, width = W, out_h = OH, out_w = OW, k_h = KH, k_w = KW;
  const int s_h = int(stride_h), s_w = int(stride_w), d_h = int(dil_h), d_w = int(dil_w), p_h = pad_h, p_w = pad_w;
  const uvec2 div_ow = by_ow, div_oh = by_oh, div_c = by_c;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  const uint taps = channels * k_h * k_w;
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

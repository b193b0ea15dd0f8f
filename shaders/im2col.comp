#version 450
#extension GL_GOOGLE_include_directive : require
// im2col for a 2-D convolution (NCHW), the first step of ops::conv2d_forward; reference/conv2d.hpp is the spec
// of the whole convolution. Each row of cols is one kernel tap (c, kh, kw), each column one output position
// (n, oh, ow), holding the input under that tap, so that the channel-major product rows = W · cols is one matmul:
//   cols[(c·KH + kh)·KW + kw][(n·OH + oh)·OW + ow] = x[n][c][oh·stride_h - pad_h + kh·dil_h][ow·stride_w - pad_w + kw·dil_w],
// 0 where that lies in the padding.
//
// Workgroup row y takes tap rows y, y + (workgroups in y), ...; along x, invocations take quads of four
// consecutive positions of a row through a grid-stride loop. Integer division is the expensive part (a CPU
// device runs it lane by lane, so the shader multiplies instead, fast_divide.glsl): a tap is taken apart once
// per row, a quad's first position once, and the other three are stepped to. Neighbouring positions read neighbouring inputs, so a subgroup's loads share cache
// lines. When the row length P = N·OH·OW is a multiple of four, a quad is written with one vec4 store
// (ops/quads.hpp); otherwise element by element.
layout(local_size_x_id = 0) in;  // workgroup size

#include "fast_divide.glsl"

layout(binding = 0, r32f) readonly uniform imageBuffer X;       // (N, C, H, W)
layout(binding = 1) writeonly buffer Cols { float cols[]; };    // (C·KH·KW, N·OH·OW)
layout(binding = 2) writeonly buffer Cols4 { vec4 cols4[]; };   // cols' whole quads, written if P % 4 == 0
layout(push_constant) uniform Params {
  uint positions;          // P = N·OH·OW
  uint C, H, W;            // input channels and size
  uint OH, OW;             // output size (at least 1)
  uint KH, KW;             // kernel
  uint stride_h, stride_w;
  int pad_h, pad_w;        // the padded extents H + 2·pad_h, W + 2·pad_w fit in an int (ops/conv2d.cpp)
  uint dil_h, dil_w;
  uvec2 by_ow, by_oh, by_kw, by_kh, by_w, by_h, by_c;  // divisors (fast_divide.glsl)
};

void main() {
  // Push constants are read once, outside the loops (inside them, llvmpipe gathers them per lane).
  const uint row_length = positions, channels = C, height = H, width = W, out_h = OH, out_w = OW, k_h = KH, k_w = KW;
  const int s_h = int(stride_h), s_w = int(stride_w), d_h = int(dil_h), d_w = int(dil_w), p_h = pad_h, p_w = pad_w;
  const uvec2 div_ow = by_ow, div_oh = by_oh, div_kw = by_kw, div_kh = by_kh;
  const uint taps = channels * k_h * k_w;
  const uint quads = (row_length >> 2) + ((row_length & 3u) != 0u ? 1u : 0u);
  const bool by_quads = (row_length & 3u) == 0u;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint t = gl_WorkGroupID.y; t < taps; t += gl_NumWorkGroups.y) {  // uniform in the workgroup
    // t = (c·KH + kh)·KW + kw, taken apart with two divisions (fast_divide.glsl: multiplies).
    const uint ckh = fast_divide(t, div_kw), c = fast_divide(ckh, div_kh), kh = ckh - c * k_h, kw = t - ckh * k_w;
    const int tap_h = int(kh) * d_h - p_h, tap_w = int(kw) * d_w - p_w;  // the tap's offset from (oh, ow)·stride
    for (uint q = gl_GlobalInvocationID.x; q < quads; q += stride) {
      // The quad's first position p = (n·OH + oh)·OW + ow, taken apart with two divisions.
      const uint p = q << 2, noh = fast_divide(p, div_ow), n = fast_divide(noh, div_oh);
      uint ow = p - noh * out_w, oh = noh - n * out_h;
      uint plane = (n * channels + c) * height * width;  // x[n][c]
      const uint elements = min(row_length - p, 4u);   // the row's last quad may be partial
      vec4 v = vec4(0.0);
      for (uint k = 0u; k < elements; ++k) {
        const int ih = int(oh) * s_h + tap_h, iw = int(ow) * s_w + tap_w;
        const bool inside = ih >= 0 && ih < int(height) && iw >= 0 && iw < int(width);
        v[k] = inside ? imageLoad(X, int(plane + uint(ih) * width + uint(iw))).x : 0.0;
        if (++ow == out_w) {  // step to the next position: ow, then oh, then n
          ow = 0u;
          if (++oh == out_h) {
            oh = 0u;
            plane += channels * height * width;
          }
        }
      }
      if (by_quads) {
        cols4[(t * row_length + p) >> 2] = v;
      } else {
        for (uint k = 0u; k < elements; ++k) cols[t * row_length + p + k] = v[k];
      }
    }
  }
}

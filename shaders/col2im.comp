#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// col2im as a gather, the input gradient's last step in ops::conv2d_backward; reference/conv2d.hpp is the spec.
// dcols (N·OH·OW, C·KH·KW) = dy · W (dy as (N·OH·OW, OC)) holds, for every output position and kernel tap, the
// gradient of the input element that tap read (im2col.comp's layout). Each input element sums the taps that read it:
//   dx[n][c][h][w] = Σ over kh, kw with h + pad_h - kh·dil_h = oh·stride_h and w + pad_w - kw·dil_w = ow·stride_w
//                    (0 <= oh < OH, 0 <= ow < OW) of dcols[(n·OH + oh)·OW + ow][(c·KH + kh)·KW + kw].
// One invocation per element of dx writes it (=) once, summing kh then kw in ascending order: no atomics, and
// the same bits on every run. Stride 1, the common case, needs no division per tap (a CPU device divides lane
// by lane) and no branch: its taps are a fixed grid (1.6x faster on lavapipe than the general loop's breaks and
// skips, bench_conv); the test is uniform, so it costs no divergence.
layout(local_size_x_id = 0) in;  // workgroup size
// 1: dcols is stored tap-major, (C·KH·KW, N·OH·OW) (ops::ColsLayout::TapMajor): lanes of neighbouring w then read
// neighbouring addresses of a tap's row instead of addresses C·KH·KW floats apart.
layout(constant_id = 1) const uint TAP_MAJOR = 0;
// 1: stride 1 and a kernel of FIXED_KH x FIXED_KW (ops/conv2d.cpp: up to 25 taps), its taps unrolled: the sample
// CNN's 32-channel 3 x 3 col2im on lavapipe 14.8-17.2 -> 5.0-10.0 ms at 4, 8 and 16 lanes (bench_conv, alternating).
layout(constant_id = 2) const uint FIXED = 0;
layout(constant_id = 3) const uint FIXED_KH = 3;
layout(constant_id = 4) const uint FIXED_KW = 3;

#include "fast_divide.glsl"

layout(binding = 0, r32f) readonly uniform imageBuffer DCols;  // (N·OH·OW, C·KH·KW), or its transpose (TAP_MAJOR)
layout(binding = 1) writeonly buffer DX { float dx[]; };       // (N, C, H, W)
layout(push_constant) uniform Params {
  uint count;              // N·C·H·W
  uint C, H, W;
  uint OH, OW;
  uint KH, KW;
  uint stride_h, stride_w;
  int pad_h, pad_w;        // the padded extents fit in an int (ops/conv2d.cpp)
  uint dil_h, dil_w;
  uvec2 by_ow, by_oh, by_kw, by_kh, by_w, by_h, by_c;  // divisors (fast_divide.glsl)
};

void main() {
  // Push constants are read once, outside the loops (inside them, llvmpipe gathers them per lane).
  const uint n_count = count, channels = C, height = H, width = W, k_h = KH, k_w = KW;
  const uvec2 div_w = by_w, div_h = by_h, div_c = by_c;
  const int out_h = int(OH), out_w = int(OW), s_h = int(stride_h), s_w = int(stride_w);
  const int p_h = pad_h, p_w = pad_w, d_h = int(dil_h), d_w = int(dil_w);
  const uint taps = channels * k_h * k_w;
  // Output positions N·OH·OW (the tap-major row length): N = count / (C·H·W).
  const uint positions = (n_count / (channels * height * width)) * uint(out_h) * uint(out_w);
  const bool unit_stride = s_h == 1 && s_w == 1;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < n_count; i += stride) {
    // i = ((n·C + c)·H + h)·W + w, taken apart with three divisions (fast_divide.glsl: multiplies).
    const uint nch = fast_divide(i, div_w), nc = fast_divide(nch, div_h), n = fast_divide(nc, div_c);
    const uint w = i - nch * width, h = nch - nc * height, c = nc - n * channels;
    float sum = 0.0;
    if (FIXED == 1u) {
      // The stride-1 grid below with the kernel's size known: every tap unrolled, the same sum in the same order.
      bool row_inside[FIXED_KH];
      uint row0[FIXED_KH];
      [[unroll]] for (uint kh = 0u; kh < FIXED_KH; ++kh) {
        const int oh = int(h) + p_h - int(kh) * d_h;
        row_inside[kh] = oh >= 0 && oh < out_h;
        row0[kh] = (n * uint(out_h) + uint(oh)) * uint(out_w);
      }
      [[unroll]] for (uint kh = 0u; kh < FIXED_KH; ++kh) {
        [[unroll]] for (uint kw = 0u; kw < FIXED_KW; ++kw) {
          const int ow = int(w) + p_w - int(kw) * d_w;
          const bool inside = row_inside[kh] && ow >= 0 && ow < out_w;
          const uint tap = (c * FIXED_KH + kh) * FIXED_KW + kw, position = row0[kh] + uint(ow);
          const uint index = inside ? (TAP_MAJOR == 1u ? tap * positions + position : position * taps + tap) : 0u;
          const float g = imageLoad(DCols, int(index)).x;
          sum += inside ? g : 0.0;
        }
      }
    } else if (unit_stride) {
      // Stride 1 (uniform): every tap's output position is its offset, so the taps are a fixed grid; each is
      // added or, outside the output, replaced by +0, which leaves the sum's bits as skipping it would (the
      // sum starts at +0 and never becomes -0). No branch per tap, and the loops have uniform trip counts.
      for (uint kh = 0; kh < k_h; ++kh) {
        const int oh = int(h) + p_h - int(kh) * d_h;
        const bool row_inside = oh >= 0 && oh < out_h;
        const uint row0 = (n * uint(out_h) + uint(oh)) * uint(out_w);
        for (uint kw = 0; kw < k_w; ++kw) {
          const int ow = int(w) + p_w - int(kw) * d_w;
          const bool inside = row_inside && ow >= 0 && ow < out_w;
          const uint tap = (c * k_h + kh) * k_w + kw, position = row0 + uint(ow);
          const uint index = inside ? (TAP_MAJOR == 1u ? tap * positions + position : position * taps + tap) : 0u;
          const float g = imageLoad(DCols, int(index)).x;
          sum += inside ? g : 0.0;
        }
      }
    } else {
      for (uint kh = 0; kh < k_h; ++kh) {
        const int th = int(h) + p_h - int(kh) * d_h;  // oh·stride_h, if this tap reads row h
        if (th < 0) break;                            // th only falls as kh grows
        int oh = th;
        if (s_h != 1) {
          if (th % s_h != 0) continue;
          oh = th / s_h;
        }
        if (oh >= out_h) continue;
        const uint row0 = (n * uint(out_h) + uint(oh)) * uint(out_w);
        for (uint kw = 0; kw < k_w; ++kw) {
          const int tw = int(w) + p_w - int(kw) * d_w;
          if (tw < 0) break;
          int ow = tw;
          if (s_w != 1) {
            if (tw % s_w != 0) continue;
            ow = tw / s_w;
          }
          if (ow >= out_w) continue;
          const uint tap = (c * k_h + kh) * k_w + kw, position = row0 + uint(ow);
          sum += imageLoad(DCols, int(TAP_MAJOR == 1u ? tap * positions + position : position * taps + tap)).x;
        }
      }
    }
    dx[i] = sum;
  }
}

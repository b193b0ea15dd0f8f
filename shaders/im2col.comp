#version 450
// im2col for a 2-D convolution (NCHW), the first step of ops::conv2d_forward; reference/conv2d.hpp is the spec
// of the whole convolution. Each row of cols is one output position (n, oh, ow), each column one kernel tap
// (c, kh, kw) of the input under it, so that y = cols · weightᵀ is one matmul:
//   cols[(n·OH + oh)·OW + ow][(c·KH + kh)·KW + kw] = x[n][c][oh·stride_h - pad_h + kh·dil_h][ow·stride_w - pad_w + kw·dil_w],
// 0 where that lies in the padding. One invocation per element of cols, through a grid-stride loop; cols is
// written in order (contiguous across invocations), x is read where the windows fall.
layout(local_size_x_id = 0) in;  // workgroup size

layout(binding = 0) readonly buffer X { float x[]; };         // (N, C, H, W)
layout(binding = 1) writeonly buffer Cols { float cols[]; };  // (N·OH·OW, C·KH·KW)
layout(push_constant) uniform Params {
  uint count;              // N·OH·OW·C·KH·KW
  uint C, H, W;            // input channels and size
  uint OH, OW;             // output size (at least 1)
  uint KH, KW;             // kernel
  uint stride_h, stride_w;
  int pad_h, pad_w;        // the padded extents H + 2·pad_h, W + 2·pad_w fit in an int (ops/conv2d.cpp)
  uint dil_h, dil_w;
};

void main() {
  // Push constants are read once, outside the loop (inside it, llvmpipe gathers them per lane).
  const uint n_count = count, channels = C, height = H, width = W, out_h = OH, out_w = OW, k_h = KH, k_w = KW;
  const uint s_h = stride_h, s_w = stride_w, d_h = dil_h, d_w = dil_w;
  const int p_h = pad_h, p_w = pad_w;
  const uint taps = channels * k_h * k_w;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < n_count; i += stride) {
    const uint tap = i % taps, row = i / taps;
    const uint kw = tap % k_w, kh = (tap / k_w) % k_h, c = tap / (k_w * k_h);
    const uint ow = row % out_w, oh = (row / out_w) % out_h, n = row / (out_w * out_h);
    const int ih = int(oh * s_h + kh * d_h) - p_h;
    const int iw = int(ow * s_w + kw * d_w) - p_w;
    const bool inside = ih >= 0 && ih < int(height) && iw >= 0 && iw < int(width);
    cols[i] = inside ? x[((n * channels + c) * height + uint(ih)) * width + uint(iw)] : 0.0;
  }
}

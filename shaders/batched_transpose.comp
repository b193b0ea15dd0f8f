#version 450
// out[n][b][a] = in[n][a][b]: a transpose of each of `batch` matrices. ops/conv2d uses it both ways between the
// matmul's layout, one row per output position (N, OH·OW, OC), and NCHW (N, OC, OH·OW). One invocation per
// element of out, through a grid-stride loop: out is written in order, in is read with stride B.
layout(local_size_x_id = 0) in;  // workgroup size

layout(binding = 0, r32f) readonly uniform imageBuffer In;    // (batch, A, B)
layout(binding = 1) writeonly buffer Out { float dst[]; };  // (batch, B, A)
layout(push_constant) uniform Params {
  uint count;  // batch·A·B
  uint A, B;
};

void main() {
  // Push constants are read once, outside the loop (inside it, llvmpipe gathers them per lane).
  const uint n_count = count, rows = A, cols = B;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < n_count; i += stride) {
    const uint a = i % rows, b = (i / rows) % cols, n = i / (rows * cols);
    dst[i] = imageLoad(In, int((n * rows + a) * cols + b)).x;
  }
}

#version 450
// out[n][b][a] = in[n][a][b]: a transpose of each of `batch` matrices. ops/conv2d uses it both ways between the
// matmul's layout, one row per output position (N, OH·OW, OC), and NCHW (N, OC, OH·OW).
//
// Each invocation writes quads of four consecutive elements of out through a grid-stride loop (ops/quads.hpp):
// it takes the quad's first index apart once, steps to the other three without dividing (a CPU device divides
// lane by lane), gathers the four from in (stride B) and writes them with one vec4 store.
layout(local_size_x_id = 0) in;  // workgroup size

layout(binding = 0, r32f) readonly uniform imageBuffer In;  // (batch, A, B)
layout(binding = 1) writeonly buffer Out { float dst[]; };  // (batch, B, A)
layout(binding = 2) writeonly buffer Out4 { vec4 dst4[]; };  // (batch·B·A / 4): out's whole quads
layout(push_constant) uniform Params {
  uint count;  // batch·A·B
  uint A, B;
};

void main() {
  // Push constants are read once, outside the loop (inside it, llvmpipe gathers them per lane).
  const uint n_count = count, rows = A, cols = B;
  const uint whole = n_count >> 2, quads = whole + ((n_count & 3u) != 0u ? 1u : 0u);
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint q = gl_GlobalInvocationID.x; q < quads; q += stride) {
    const uint i = q << 2;
    uint a = i % rows, nb = i / rows, b = nb % cols, n = nb / cols;
    const uint elements = min(n_count - i, 4u);  // the last quad may be partial
    vec4 v = vec4(0.0);
    for (uint k = 0u; k < elements; ++k) {
      v[k] = imageLoad(In, int((n * rows + a) * cols + b)).x;
      if (++a == rows) {  // the next element starts the next row of out
        a = 0u;
        if (++b == cols) {
          b = 0u;
          ++n;
        }
      }
    }
    if (q < whole) {
      dst4[q] = v;
    } else {
      for (uint k = 0u; k < elements; ++k) dst[i + k] = v[k];
    }
  }
}

#version 450
// sums[r] = Σ_l m[r][l] over an (R, L) matrix, written (=): a convolution's bias gradient from its output
// gradient in channel-major layout (ops/conv2d). One workgroup per row (a grid-stride loop over rows covers
// any count); its invocations sum strided slices of the row, four values per load when L is a multiple of four
// (ops/quads.hpp), and a shared-memory tree adds the partial sums: the order of every sum depends only on the
// shapes and the workgroup size, so it is deterministic.
layout(local_size_x_id = 0) in;  // a power of two

layout(binding = 0, r32f) readonly uniform imageBuffer M;     // (R, L)
layout(binding = 1) writeonly buffer Sums { float sums[]; };  // (R)
layout(binding = 2, rgba32f) readonly uniform imageBuffer M4;  // (R, L / 4), read if L % 4 == 0
layout(push_constant) uniform Params {
  uint R;
  uint L;
};

shared float s_sum[gl_WorkGroupSize.x];

void main() {
  // Push constants are read once, outside all control flow (inside it, llvmpipe gathers them per lane).
  const uint row_count = R, length = L;
  const uint tid = gl_LocalInvocationID.x;
  for (uint r = gl_WorkGroupID.x; r < row_count; r += gl_NumWorkGroups.x) {  // uniform in the workgroup
    float sum = 0.0;
    if ((length & 3u) == 0u) {
      vec4 sum4 = vec4(0.0);
      const uint row = r * (length >> 2);
      for (uint l = tid; l < length >> 2; l += gl_WorkGroupSize.x) sum4 += imageLoad(M4, int(row + l));
      sum = (sum4.x + sum4.y) + (sum4.z + sum4.w);
    } else {
      const uint row = r * length;
      for (uint l = tid; l < length; l += gl_WorkGroupSize.x) sum += imageLoad(M, int(row + l)).x;
    }
    s_sum[tid] = sum;
    barrier();
    for (uint half_width = gl_WorkGroupSize.x / 2u; half_width > 0u; half_width /= 2u) {
      if (tid < half_width) s_sum[tid] += s_sum[tid + half_width];
      barrier();
    }
    if (tid == 0u) sums[r] = s_sum[0];
    barrier();  // invocation 0 has read the total before the next row overwrites it
  }
}

#version 450
// The max-norm constraint (Srivastava et al. 2014; reference/optimizers.hpp, ref::max_norm) for devices
// without subgroup arithmetic; max_norm.comp is the same computation with subgroupAdd. Each row of w (one
// unit's incoming weights) whose L2 norm exceeds c is scaled to norm c; the others are untouched. One
// workgroup per row (a grid-stride loop over rows covers any count): a shared-memory tree sums the
// squares, then every invocation scales its own columns.
layout(local_size_x_id = 0) in;  // WG: a power of two

layout(binding = 0) buffer W { float w[]; };  // (rows, cols)
layout(push_constant) uniform Params {
  uint rows;
  uint cols;
  float c;  // > 0, checked on the host
};

shared float s_squares[gl_WorkGroupSize.x];

void main() {
  const uint tid = gl_LocalInvocationID.x;
  for (uint row = gl_WorkGroupID.x; row < rows; row += gl_NumWorkGroups.x) {  // uniform in the group
    const uint base = row * cols;
    float squares = 0.0;
    for (uint j = tid; j < cols; j += gl_WorkGroupSize.x) squares += w[base + j] * w[base + j];
    s_squares[tid] = squares;
    barrier();
    for (uint stride = gl_WorkGroupSize.x / 2u; stride > 0u; stride /= 2u) {
      if (tid < stride) s_squares[tid] += s_squares[tid + stride];
      barrier();
    }
    const float norm = sqrt(s_squares[0]);
    if (norm > c) {  // uniform: every invocation read the same sum
      const float scale = c / norm;
      for (uint j = tid; j < cols; j += gl_WorkGroupSize.x) w[base + j] *= scale;
    }
    // The next row overwrites s_squares: everyone must have read s_squares[0] first.
    barrier();
  }
}

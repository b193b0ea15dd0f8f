#version 450
// The second pass of a split reduction (ops/split_sum.hpp): c = Σ_s partial[s] (+ bias per column), the slices
// added in order s = 0, 1, ..., so the result depends only on the split, never on timing. c is (M, N) row-major
// (a matmul whose K was split, shaders/matmul.glsl) or (N) (a bias gradient whose rows were split,
// bias_backward.comp); partial s holds a whole c-shaped result at s * slice_stride.
layout(local_size_x_id = 0) in;  // workgroup size

layout(binding = 0, r32f) readonly uniform imageBuffer Partials;    // (slices, slice_stride)
layout(binding = 1) readonly buffer Bias { float bias[]; };         // (N), read when has_bias
layout(binding = 2) writeonly buffer C { float c[]; };              // (M, N)
layout(push_constant) uniform Params {
  uint count;         // M * N
  uint columns;       // N
  uint slices;
  uint slice_stride;  // floats between slices
  uint has_bias;
};

void main() {
  // Read once, outside the loops: inside them, llvmpipe gathers push constants per lane.
  const uint n = count, cols = columns, s_count = slices, stride = slice_stride;
  const bool with_bias = has_bias != 0;
  const uint step = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < n; i += step) {
    float sum = imageLoad(Partials, int(i)).x;
    for (uint s = 1; s < s_count; ++s) sum += imageLoad(Partials, int(s * stride + i)).x;
    c[i] = with_bias ? sum + bias[i % cols] : sum;
  }
}

#version 450
// The max-norm constraint (Srivastava et al. 2014; reference/optimizers.hpp, ref::max_norm): each row of
// w (one unit's incoming weights) whose L2 norm exceeds c is scaled to norm c; the others are untouched.
// One workgroup per row (a grid-stride loop over rows covers any count). Each invocation sums the squares
// of its columns, subgroupAdd sums a subgroup's, and when the workgroup holds several subgroups their
// partial sums meet in shared memory behind one barrier. On lavapipe the workgroup is one 8-lane subgroup
// and there is no barrier at all: 2.0 ms for a 1024 x 1024 weight against 6.3 ms for the shared-memory
// tree of max_norm_tree.comp (the fallback for devices without subgroup arithmetic).
// On CPU devices (PARTIALS > 0, one subgroup a workgroup) the squares are summed in row_partials.glsl's order
// instead, the same at every subgroup size.
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint PARTIALS = 0;  // > 0: row_partials.glsl's order (lavapipe), 0: subgroupAdd
const uint S = gl_WorkGroupSize.x;
#include "row_partials.glsl"

layout(binding = 0) buffer W { float w[]; };  // (rows, cols)
layout(push_constant) uniform Params {
  uint rows;
  uint cols;
  float c;  // > 0, checked on the host
};

shared float s_partial[gl_WorkGroupSize.x];  // one per subgroup; never more subgroups than invocations

void main() {
  // Push constants copied to locals once: lavapipe re-reads them per lane inside loops.
  const uint row_count = rows;
  const uint width = cols;
  const float bound = c;
  const uint tid = gl_LocalInvocationID.x;
  for (uint row = gl_WorkGroupID.x; row < row_count; row += gl_NumWorkGroups.x) {  // uniform in the group
    const uint base = row * width;
    float total;
    if (PARTIALS != 0u) {
      float part[SLOTS];
      [[unroll]] for (uint s = 0u; s < SLOTS; ++s) part[s] = 0.0;
      for (uint block = 0u; block < width; block += ROW_BLOCK) {  // uniform
        [[unroll]] for (uint k = 0u; k < ROW_BLOCK / S; ++k) {
          const uint j = block + k * S + tid;
          const float x = w[base + min(j, width - 1u)];
          add_square(part, k, j < width ? x * x : 0.0);
        }
      }
      total = sum_partials(part);
    } else {
      float squares = 0.0;
      for (uint j = tid; j < width; j += gl_WorkGroupSize.x) squares += w[base + j] * w[base + j];
      total = subgroupAdd(squares);
    }
    if (PARTIALS == 0u && gl_NumSubgroups > 1u) {  // uniform: the same for the whole dispatch
      if (subgroupElect()) s_partial[gl_SubgroupID] = total;
      barrier();
      total = 0.0;
      for (uint s = 0u; s < gl_NumSubgroups; ++s) total += s_partial[s];
      // The next row overwrites s_partial: everyone must have read it first.
      barrier();
    }
    const float norm = sqrt(total);
    if (norm > bound) {  // uniform: every invocation has the same total
      const float scale = bound / norm;
      for (uint j = tid; j < width; j += gl_WorkGroupSize.x) w[base + j] *= scale;
    }
  }
}

#version 450
// One SGD step of a weight matrix and its max-norm constraint in one pass (ops/optimizers.hpp,
// sgd_step_max_norm): what sgd_step.comp and then max_norm.comp compute, with the same arithmetic in the same
// order, so the result is theirs, while w is read and written once instead of twice and two dispatches are one.
// One workgroup per row, as max_norm.comp: each invocation updates its columns j = tid, tid + WG, ... and sums
// the squares of the updated weights; subgroupAdd sums a subgroup's, shared memory the subgroups'; a row whose
// norm exceeds c is then scaled to c.
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

layout(binding = 0) buffer W { float w[]; };                    // (rows, cols)
layout(binding = 1, r32f) readonly uniform imageBuffer G;       // (rows, cols)
layout(binding = 2) writeonly buffer V { float v[]; };          // (rows, cols) momentum buffer
layout(binding = 3) readonly buffer Hyper { float hyper[4]; };  // (4) [lr, momentum, -, -]
// w and v again, read through texel buffers: lavapipe loads a texel for all lanes at once (a gather) and a
// storage buffer lane by lane. Each element is read before it is written, by the invocation that writes it;
// the rescale reads w back through W, after this invocation's own writes.
layout(binding = 4, r32f) readonly uniform imageBuffer W_in;  // (rows, cols)
layout(binding = 5, r32f) readonly uniform imageBuffer V_in;  // (rows, cols)
layout(push_constant) uniform Params {
  uint rows;
  uint cols;
  float c;  // > 0, checked on the host
  float weight_decay;
  uint nesterov;  // 0 or 1
};

shared float s_partial[gl_WorkGroupSize.x];  // one per subgroup

void main() {
  // Push constants and hyper-parameters copied to locals once: lavapipe re-reads them per lane inside loops.
  const float lr = hyper[0];
  const float momentum = hyper[1];
  const uint row_count = rows;
  const uint width = cols;
  const float bound = c;
  const float wd = weight_decay;
  const bool use_nesterov = nesterov != 0u;
  const uint tid = gl_LocalInvocationID.x;
  for (uint row = gl_WorkGroupID.x; row < row_count; row += gl_NumWorkGroups.x) {  // uniform in the group
    const uint base = row * width;
    float squares = 0.0;
    float part[SLOTS];
    [[unroll]] for (uint s = 0u; s < SLOTS; ++s) part[s] = 0.0;
    // PARTIALS = 0: columns tid, tid + S, ...; otherwise blocks of ROW_BLOCK columns, the same columns in the
    // same lanes, their squares gathered into row_partials.glsl's partials.
    const uint step_columns = PARTIALS == 0u ? gl_WorkGroupSize.x : ROW_BLOCK;
    for (uint block = 0u; block < width; block += step_columns) {  // uniform
      [[unroll]] for (uint k = 0u; k < (PARTIALS == 0u ? 1u : ROW_BLOCK / S); ++k) {
        const uint j = block + k * S + tid;
        float square = 0.0;
        if (j < width) {
          // sgd_step.comp's update, then max_norm.comp's square of the stored weight.
          const uint i = base + j;
          const float weight = imageLoad(W_in, int(i)).x;
          const float grad = imageLoad(G, int(i)).x + wd * weight;
          const float velocity = momentum * imageLoad(V_in, int(i)).x + grad;
          v[i] = velocity;
          const float step = use_nesterov ? grad + momentum * velocity : velocity;
          const float updated = weight - lr * step;
          w[i] = updated;
          square = updated * updated;
        }
        if (PARTIALS == 0u) {
          squares += square;
        } else {
          add_square(part, k, square);
        }
      }
    }
    float total = PARTIALS == 0u ? subgroupAdd(squares) : sum_partials(part);
    if (PARTIALS == 0u && gl_NumSubgroups > 1u) {  // uniform: the same for the whole dispatch
      if (subgroupElect()) s_partial[gl_SubgroupID] = total;
      barrier();
      total = 0.0;
      for (uint s = 0u; s < gl_NumSubgroups; ++s) total += s_partial[s];
      barrier();  // the next row overwrites s_partial: everyone must have read it first
    }
    const float norm = sqrt(total);
    if (norm > bound) {  // uniform: every invocation has the same total
      const float scale = bound / norm;
      // Each invocation rescales the columns it wrote itself: no barrier needed between the two loops.
      for (uint j = tid; j < width; j += gl_WorkGroupSize.x) w[base + j] *= scale;
    }
  }
}

#version 450
// sgd_step_max_norm.comp four columns at a time, for a workgroup that is one subgroup of S lanes (S a multiple
// of 4) and rows whose length is a multiple of 4 (ops/optimizers.cpp picks it then): each lane reads and writes
// whole quads (ops/quads.hpp), and the result is sgd_step.comp then max_norm.comp's, bit for bit.
//
// The update is element-wise, so doing it on quads changes nothing. The row's sum of squares must add the same
// values in the same order as max_norm.comp, where lane L sums columns L, L + S, L + 2S, ... in turn and
// subgroupAdd sums the lanes. Here a block of S quads (4S columns) is updated at once, lane l holding columns
// 4l .. 4l + 3; lane L's columns in that block, 4S*b + L + S*m for m = 0..3, sit in component L % 4 of the quad
// held by lane L / 4 + m * S / 4, and subgroupShuffle brings each to it in that order. Quads past the row's
// end contribute +0.0, which leaves a sum of squares (never -0) unchanged to the bit.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
layout(local_size_x_id = 0) in;  // S: the subgroup size

layout(binding = 0) buffer W4 { vec4 w4[]; };                   // (rows, cols / 4): w's quads
layout(binding = 1, rgba32f) readonly uniform imageBuffer G4;   // (rows, cols / 4)
layout(binding = 2) writeonly buffer V4 { vec4 v4[]; };         // (rows, cols / 4) momentum buffer
layout(binding = 3) readonly buffer Hyper { float hyper[4]; };  // (4) [lr, momentum, -, -]
// w and v read through texel buffers (lavapipe gathers a texel for all lanes at once); each quad is read before
// the lane that reads it writes it, and the rescale reads w back through W4, after this lane's own writes.
layout(binding = 4, rgba32f) readonly uniform imageBuffer W4_in;  // (rows, cols / 4)
layout(binding = 5, rgba32f) readonly uniform imageBuffer V4_in;  // (rows, cols / 4)
layout(push_constant) uniform Params {
  uint rows;
  uint cols;  // a multiple of 4
  float c;    // > 0, checked on the host
  float weight_decay;
  uint nesterov;  // 0 or 1
};

void main() {
  // Push constants and hyper-parameters copied to locals once: lavapipe re-reads them per lane inside loops.
  const float lr = hyper[0];
  const float momentum = hyper[1];
  const uint row_count = rows;
  const uint width = cols >> 2;  // quads per row
  const float bound = c;
  const float wd = weight_decay;
  const bool use_nesterov = nesterov != 0u;
  const uint S = gl_WorkGroupSize.x;
  const uint lane = gl_SubgroupInvocationID;
  for (uint row = gl_WorkGroupID.x; row < row_count; row += gl_NumWorkGroups.x) {  // uniform in the group
    const uint base = row * width;
    float squares = 0.0;
    for (uint block = 0u; block < width; block += S) {  // uniform
      const uint q = block + lane;
      vec4 square = vec4(0.0);
      if (q < width) {
        const uint i = base + q;
        const vec4 weight = imageLoad(W4_in, int(i));
        const vec4 grad = imageLoad(G4, int(i)) + wd * weight;
        const vec4 velocity = momentum * imageLoad(V4_in, int(i)) + grad;
        v4[i] = velocity;
        const vec4 step = use_nesterov ? grad + momentum * velocity : velocity;
        const vec4 updated = weight - lr * step;
        w4[i] = updated;
        square = updated * updated;
      }
      [[unroll]] for (uint m = 0u; m < 4u; ++m) squares += subgroupShuffle(square, lane / 4u + m * (S / 4u))[lane % 4u];
    }
    const float norm = sqrt(subgroupAdd(squares));
    if (norm > bound) {  // uniform: every lane has the same total
      const float scale = bound / norm;
      // Each lane rescales the quads it wrote itself: no barrier needed between the two loops.
      for (uint q = lane; q < width; q += S) w4[base + q] *= scale;
    }
  }
}

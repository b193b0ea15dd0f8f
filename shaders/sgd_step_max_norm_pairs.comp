#version 450
// sgd_step_max_norm.comp for a CPU device (a workgroup of one subgroup, row_partials.glsl's order of the
// squares with P = 8) and rows whose length is a multiple of 4, at any subgroup size: a row per PAIR of lanes,
// S / 2 rows per workgroup, each lane four columns at a time (ops/optimizers.cpp picks it then). The result is
// sgd_step.comp then max_norm.comp's, bit for bit.
//
// The update is element-wise. The row's sum of squares must add the same values in the same order as
// row_partials.glsl: the squares of columns p, p + 8, p + 16, ... in turn into partial p (from 0), then the eight
// partials in turn into the total (from 0). Columns 8k .. 8k + 3 are one quad, 8k + 4 .. 8k + 7 the next: the
// pair's first lane takes the quads 2k (partials 0-3 as one vec4), the second 2k + 1 (partials 4-7), each
// adding its quad's squares to its vec4 of partials in turn, so no square leaves its lane inside the loop
// (lavapipe runs subgroupShuffle as a loop over the lanes at any width but 8, which made the quads kernel
// four times slower at 16 lanes than at 8); one shuffle per row at the end brings the pair's partials together.
// A quad past the row's end is skipped, which is what adding its +0.0 squares would give.
#extension GL_KHR_shader_subgroup_shuffle_relative : require
#extension GL_KHR_shader_subgroup_shuffle : require
layout(local_size_x_id = 0) in;  // S: the subgroup size, even

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
  const uint lane = gl_SubgroupInvocationID;
  const uint second = lane & 1u;  // 0: partials 0-3 (quads 0, 2, 4, ...), 1: partials 4-7 (quads 1, 3, ...)
  const uint rows_per_group = gl_WorkGroupSize.x / 2u;
  for (uint first_row = gl_WorkGroupID.x * rows_per_group; first_row < row_count;
       first_row += gl_NumWorkGroups.x * rows_per_group) {  // uniform in the group
    const uint row = first_row + lane / 2u;
    const bool in_rows = row < row_count;
    const uint base = row * width;
    vec4 partials = vec4(0.0);
    for (uint k = 0u; k < width; k += 2u) {  // uniform: the pair's next eight columns
      const uint q = k + second;
      if (in_rows && q < width) {
        const uint i = base + q;
        const vec4 weight = imageLoad(W4_in, int(i));
        const vec4 grad = imageLoad(G4, int(i)) + wd * weight;
        const vec4 velocity = momentum * imageLoad(V4_in, int(i)) + grad;
        v4[i] = velocity;
        const vec4 step = use_nesterov ? grad + momentum * velocity : velocity;
        const vec4 updated = weight - lr * step;
        w4[i] = updated;
        partials += updated * updated;
      }
    }
    const vec4 other = subgroupShuffleXor(partials, 1u);  // the pair's other lane's partials
    const vec4 low = second == 0u ? partials : other, high = second == 0u ? other : partials;
    float total = 0.0;
    total += low.x;
    total += low.y;
    total += low.z;
    total += low.w;
    total += high.x;
    total += high.y;
    total += high.z;
    total += high.w;
    const float norm = sqrt(total);
    if (in_rows && norm > bound) {
      const float scale = bound / norm;
      // Each lane rescales the quads it wrote itself: no barrier needed between the two loops.
      for (uint q = second; q < width; q += 2u) w4[base + q] *= scale;
    }
  }
}

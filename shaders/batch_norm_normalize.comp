#version 450
// Batch normalization's element-wise half: y = (x − mean[c]) · (invstd[c] · weight[c]) + bias[c], x and y
// (N, C, L). In training (FROM_VARIANCE = 0) mean and invstd are the batch statistics batch_norm_statistics.comp
// just wrote; in eval (FROM_VARIANCE = 1) they are running_mean and running_var, and invstd = 1 / sqrt(var +
// eps). reference/batch_norm.hpp (batch_norm_forward_training, batch_norm_forward_eval) is the spec.
//
// The layers after a BatchNorm that the Model folds into it (ops/batch_norm.hpp, BatchNormEpilogue) are applied
// in the same pass, as their own kernels would: with RELU = 1 the select of relu_forward.comp; then with
// DROPOUT2D = 2 dropout2d.comp's (channel n*C + c kept: y * scale; dropped: +0), with DROPOUT2D = 1 the eval
// scale (dropout.comp's product). So the bits are those of the separate passes.
//
// Workgroups take whole planes (n, c) through a grid-stride loop, so each invocation reads a channel's four
// values once per plane, not once per element; rows shorter than the workgroup (BatchNorm1d) go through one
// flat loop instead. Planes of a multiple of four values go through the vec4 bindings (ops/quads.hpp).
layout(local_size_x_id = 0) in;                     // workgroup size
layout(constant_id = 1) const uint FROM_VARIANCE = 0;  // 1: binding 2 holds variances (eval)
layout(constant_id = 2) const uint RELU = 0;           // 1: y = max(bn(x), 0), by a select
layout(constant_id = 3) const uint DROPOUT2D = 0;      // 0: none; 1: y * scale (eval); 2: channel masks, * scale
// The dispatch's shape, fixed on the host (ops/batch_norm.cpp) so that a pipeline holds only the path it runs:
// lavapipe runs both sides of every branch (under masks), even one no lane takes.
layout(constant_id = 4) const uint PLANES = 1;  // 1: L >= the workgroup size, a workgroup takes whole planes
layout(constant_id = 5) const uint QUADS = 1;   // 1: L % 4 == 0, planes move in quads
layout(constant_id = 6) const uint UNIT_EACH = 0;  // 1: a plane's quads are exactly the workgroup: no inner loop

#extension GL_GOOGLE_include_directive : require
#include "dropout_mask.glsl"

layout(binding = 0, r32f) readonly uniform imageBuffer X;       // (N, C, L)
layout(binding = 1, r32f) readonly uniform imageBuffer Mean;    // (C)
layout(binding = 2, r32f) readonly uniform imageBuffer Spread;  // (C): invstd, or the variance (FROM_VARIANCE)
layout(binding = 3, r32f) readonly uniform imageBuffer Weight;  // (C)
layout(binding = 4, r32f) readonly uniform imageBuffer Bias;    // (C)
layout(binding = 5) writeonly buffer Y { float y[]; };          // (N, C, L)
layout(binding = 6, rgba32f) readonly uniform imageBuffer X4;   // (N, C, L / 4), read if L % 4 == 0
layout(binding = 7) writeonly buffer Y4 { vec4 y4[]; };         // (N, C, L / 4), written if L % 4 == 0
layout(binding = 8) readonly buffer Step { uint step[]; };      // (2): the step counter, read if DROPOUT2D = 2
layout(push_constant) uniform Params {
  uint planes;  // N * C
  uint C;
  uint L;
  float eps;  // read when FROM_VARIANCE = 1
  // The Dropout2d epilogue (DROPOUT2D != 0): as dropout2d.comp's push constants.
  uint seed_lo, seed_hi;
  uint layer;
  uint threshold;
  float scale;
};

float relu(float v) { return RELU == 1 ? (v > 0.0 ? v : 0.0) : v; }
vec4 relu(vec4 v) { return RELU == 1 ? mix(vec4(0.0), v, greaterThan(v, vec4(0.0))) : v; }

float scale_of(uint c, float e) {
  const float spread = imageLoad(Spread, int(c)).x;
  return (FROM_VARIANCE == 1 ? inversesqrt(spread + e) : spread) * imageLoad(Weight, int(c)).x;
}

// The dropout factor of plane p (channel n*C + c): DROPOUT2D = 2 keeps it (then scales) or drops it.
bool kept(uint p, uvec2 seed, uvec2 current_step, uint layer_id, uint keep_below) {
  return DROPOUT2D != 2 || dropout_keep(seed, current_step, layer_id, p, keep_below);
}
float drop(float v, bool keep, float factor) { return DROPOUT2D == 0 ? v : mix(0.0, v * factor, keep); }
vec4 drop(vec4 v, bool keep, float factor) { return DROPOUT2D == 0 ? v : mix(vec4(0.0), v * factor, bvec4(keep)); }

void main() {
  const uint plane_count = planes, channels = C, l_count = L;
  const float e = eps;
  const uvec2 seed = uvec2(seed_lo, seed_hi);
  const uvec2 current_step = DROPOUT2D == 2 ? uvec2(step[0], step[1]) : uvec2(0u);
  const uint layer_id = layer, keep_below = threshold;
  const float factor = scale;
  const uint tid = gl_LocalInvocationID.x;
  if (PLANES == 1) {
    for (uint p = gl_WorkGroupID.x; p < plane_count; p += gl_NumWorkGroups.x) {  // uniform in the workgroup
      const uint c = p % channels;
      const float mu = imageLoad(Mean, int(c)).x, gain = scale_of(c, e), shift = imageLoad(Bias, int(c)).x;
      const bool keep = kept(p, seed, current_step, layer_id, keep_below);  // one draw per plane
      if (QUADS == 1) {
        const uint row = p * (l_count >> 2);
        if (UNIT_EACH == 1) {
          y4[row + tid] = drop(relu((imageLoad(X4, int(row + tid)) - mu) * gain + shift), keep, factor);
        } else {
          for (uint l = tid; l < l_count >> 2; l += gl_WorkGroupSize.x)
            y4[row + l] = drop(relu((imageLoad(X4, int(row + l)) - mu) * gain + shift), keep, factor);
        }
      } else {
        const uint row = p * l_count;
        for (uint l = tid; l < l_count; l += gl_WorkGroupSize.x)
          y[row + l] = drop(relu((imageLoad(X, int(row + l)).x - mu) * gain + shift), keep, factor);
      }
    }
  } else {
    const uint count = plane_count * l_count;
    for (uint i = gl_GlobalInvocationID.x; i < count; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
      const uint p = i / l_count, c = p % channels;
      const float mu = imageLoad(Mean, int(c)).x, shift = imageLoad(Bias, int(c)).x;
      const bool keep = kept(p, seed, current_step, layer_id, keep_below);
      y[i] = drop(relu((imageLoad(X, int(i)).x - mu) * scale_of(c, e) + shift), keep, factor);
    }
  }
}

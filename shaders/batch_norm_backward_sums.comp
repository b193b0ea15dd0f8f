#version 450
// Batch normalization backward, first half: the per-channel sums of the gradient of the training forward;
// reference/batch_norm.hpp (batch_norm_backward) is its spec, batch_norm_backward_dx.comp the second half.
// x, dy (N, C, L); channel c has M = N*L values. With x^ = (x - save_mean[c]) * save_invstd[c]:
//   dbias[c] = Σ dy, dweight[c] = Σ dy · x^ = save_invstd[c] · Σ dy · (x - save_mean[c]).
// One workgroup per channel, which takes the channel's N rows of L values as one flat sequence of units (quads
// through the vec4 bindings when L is a multiple of four, ops/quads.hpp; else values) and adds both sums in
// one shared-memory tree: every lane busy and deterministic, as batch_norm_statistics.comp. Written (=), never
// accumulated.
// With RELU = 1 the forward was ReLU'd in its own pass (batch_norm_normalize.comp) and dy is the gradient of
// its output y: each value is first taken where y > 0 and 0 elsewhere, relu_backward.comp's select.
layout(local_size_x_id = 0) in;  // WG: a power of two
layout(constant_id = 1) const uint RELU = 0;

layout(binding = 0, r32f) readonly uniform imageBuffer DY;                   // (N, C, L)
layout(binding = 1, r32f) readonly uniform imageBuffer X;                     // (N, C, L): the forward's input
layout(binding = 2) readonly buffer SaveMean { float save_mean[]; };      // (C): from the forward
layout(binding = 3) readonly buffer SaveInvstd { float save_invstd[]; };  // (C): from the forward
layout(binding = 4) writeonly buffer DWeight { float dweight[]; };        // (C)
layout(binding = 5) writeonly buffer DBias { float dbias[]; };            // (C)
layout(binding = 6, rgba32f) readonly uniform imageBuffer DY4;             // (N, C, L / 4), read if L % 4 == 0
layout(binding = 7, rgba32f) readonly uniform imageBuffer X4;              // (N, C, L / 4), read if L % 4 == 0
layout(binding = 8, r32f) readonly uniform imageBuffer Y;                     // (N, C, L): the output, read if RELU
layout(binding = 9, rgba32f) readonly uniform imageBuffer Y4;              // (N, C, L / 4), read if RELU, L % 4 == 0
layout(push_constant) uniform Params {
  uvec2 row_units;  // fast_divide.glsl's divisor: the units (quads if L % 4 == 0, else values) in a row (n, c)
  uint N;
  uint C;
  uint L;
  float gradient_scale;  // the Dropout2d epilogue's scale, else 1 (RELU = 1)
};

// dy at element i (quad i), through the epilogue of the forward when RELU = 1: it flows where the output
// is > 0 (after a ReLU, and a Dropout2d after it, exactly the kept positive values), times the dropout's
// scale, as dropout2d.comp's backward and then relu_backward.comp's select compute it. Read once per pass.
float g_scale;
float gradient(uint i) {
  const float g = imageLoad(DY, int(i)).x;
  return RELU == 1 ? (imageLoad(Y, int(i)).x > 0.0 ? g * g_scale : 0.0) : g;
}
vec4 gradient4(uint i) {
  const vec4 g = imageLoad(DY4, int(i));
  return RELU == 1 ? mix(vec4(0.0), g * g_scale, greaterThan(imageLoad(Y4, int(i)), vec4(0.0))) : g;
}

#extension GL_GOOGLE_include_directive : require
#include "fast_divide.glsl"

shared float s_dy[gl_WorkGroupSize.x];
shared float s_dy_centered[gl_WorkGroupSize.x];

void main() {
  const uint n_count = N, channels = C, l_count = L;
  const uint units = (l_count & 3u) == 0u ? l_count >> 2 : l_count;  // per row (n, c)
  const uvec2 divisor = row_units;
  const uint unit_count = n_count * units;  // the channel's
  const uint tid = gl_LocalInvocationID.x;
  g_scale = gradient_scale;  // read outside control flow: inside it, llvmpipe gathers push constants per lane
  for (uint c = gl_WorkGroupID.x; c < channels; c += gl_NumWorkGroups.x) {  // uniform in the workgroup
    const float mean = save_mean[c];
    float sum_dy = 0.0, sum_dy_centered = 0.0;
    if ((l_count & 3u) == 0u) {
      vec4 sums_dy = vec4(0.0), sums_dy_centered = vec4(0.0);
      for (uint i = tid; i < unit_count; i += gl_WorkGroupSize.x) {
        const uint n = fast_divide(i, divisor);
        const uint unit = (n * channels + c) * units + (i - n * units);
        const vec4 g = gradient4(unit);
        sums_dy += g;
        sums_dy_centered += g * (imageLoad(X4, int(unit)) - mean);
      }
      sum_dy = (sums_dy.x + sums_dy.y) + (sums_dy.z + sums_dy.w);
      sum_dy_centered = (sums_dy_centered.x + sums_dy_centered.y) + (sums_dy_centered.z + sums_dy_centered.w);
    } else {
      for (uint i = tid; i < unit_count; i += gl_WorkGroupSize.x) {
        const uint n = fast_divide(i, divisor);
        const uint unit = (n * channels + c) * units + (i - n * units);
        const float g = gradient(unit);
        sum_dy += g;
        sum_dy_centered += g * (imageLoad(X, int(unit)).x - mean);
      }
    }
    s_dy[tid] = sum_dy;
    s_dy_centered[tid] = sum_dy_centered;
    barrier();
    for (uint stride = gl_WorkGroupSize.x / 2u; stride > 0u; stride /= 2u) {
      if (tid < stride) {
        s_dy[tid] += s_dy[tid + stride];
        s_dy_centered[tid] += s_dy_centered[tid + stride];
      }
      barrier();
    }
    if (tid == 0u) {
      dbias[c] = s_dy[0];
      dweight[c] = s_dy_centered[0] * save_invstd[c];
    }
    barrier();  // invocation 0 has read the totals before the next channel overwrites them
  }
}

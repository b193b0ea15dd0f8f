#version 450
// Batch normalization, training forward, first half: each channel's batch statistics (torch.nn.BatchNorm1d/2d
// in train mode); reference/batch_norm.hpp (batch_norm_forward_training) is its spec, batch_norm_normalize.comp
// the second half. x is (N, C, L); channel c has the M = N*L values x[n, c, l].
//
// One workgroup per channel (a grid-stride loop over channels covers any count) reads the channel once and
// sums d = x - pivot and d², pivot being the channel's first value: shifted data, so Σd² − (Σd)²/M does not
// cancel the way Σx² − M·mean² does when the mean is large against the spread (the pivot is one of the
// values, so it lies within the spread). The channel's N rows of L values are one flat sequence of units
// (quads through the vec4 binding when L is a multiple of four, ops/quads.hpp; else values), invocation t
// sums units t, t + WG, ..., finding each unit's row by fast_divide.glsl: every lane busy whatever L is (a
// loop over rows with an inner loop over a row's units cost lavapipe as much per row as per unit when rows
// are short: 14 x 14 planes took as long per channel as 28 x 28 ones). A shared-memory tree adds the partial
// sums: the order of every sum depends only on the shapes and the workgroup size, so it is deterministic.
// Invocation 0 then writes what normalize and backward need, and moves the running statistics (momentum, the
// UNBIASED variance, as PyTorch); the workgroup of channel 0 also counts the batch.
layout(local_size_x_id = 0) in;  // WG: a power of two

layout(binding = 0, r32f) readonly uniform imageBuffer X;                      // (N, C, L)
layout(binding = 1) writeonly buffer SaveMean { float save_mean[]; };      // (C): the batch mean
layout(binding = 2) writeonly buffer SaveInvstd { float save_invstd[]; };  // (C): 1 / sqrt(biased var + eps)
layout(binding = 3) buffer RunningMean { float running_mean[]; };          // (C)
layout(binding = 4) buffer RunningVar { float running_var[]; };            // (C)
layout(binding = 5) buffer Tracked { float num_batches_tracked[]; };       // (): one value
layout(binding = 6, rgba32f) readonly uniform imageBuffer X4;              // (N, C, L / 4), read if L % 4 == 0
layout(push_constant) uniform Params {
  uvec2 row_units;  // fast_divide.glsl's divisor: the units (quads if L % 4 == 0, else values) in a row (n, c)
  uint N;
  uint C;
  uint L;
  float eps;
  float momentum;
};

#extension GL_GOOGLE_include_directive : require
#include "fast_divide.glsl"

shared float s_sum[gl_WorkGroupSize.x];
shared float s_squares[gl_WorkGroupSize.x];

void main() {
  // Push constants are read once, outside all control flow (inside it, llvmpipe gathers them per lane).
  const uint n_count = N, channels = C, l_count = L;
  const float e = eps, m = momentum;
  const uint units = (l_count & 3u) == 0u ? l_count >> 2 : l_count;  // per row (n, c)
  const uvec2 divisor = row_units;
  const uint unit_count = n_count * units;  // the channel's
  const uint count = n_count * l_count;  // M
  const uint tid = gl_LocalInvocationID.x;
  for (uint c = gl_WorkGroupID.x; c < channels; c += gl_NumWorkGroups.x) {  // uniform in the workgroup
    const float pivot = imageLoad(X, int(c * l_count)).x;
    float sum = 0.0, squares = 0.0;
    if ((l_count & 3u) == 0u) {
      vec4 sums = vec4(0.0), squares4 = vec4(0.0);
      for (uint i = tid; i < unit_count; i += gl_WorkGroupSize.x) {
        const uint n = fast_divide(i, divisor);
        const vec4 d = imageLoad(X4, int((n * channels + c) * units + (i - n * units))) - pivot;
        sums += d;
        squares4 += d * d;
      }
      sum = (sums.x + sums.y) + (sums.z + sums.w);
      squares = (squares4.x + squares4.y) + (squares4.z + squares4.w);
    } else {
      for (uint i = tid; i < unit_count; i += gl_WorkGroupSize.x) {
        const uint n = fast_divide(i, divisor);
        const float d = imageLoad(X, int((n * channels + c) * units + (i - n * units))).x - pivot;
        sum += d;
        squares += d * d;
      }
    }
    s_sum[tid] = sum;
    s_squares[tid] = squares;
    barrier();
    for (uint stride = gl_WorkGroupSize.x / 2u; stride > 0u; stride /= 2u) {
      if (tid < stride) {
        s_sum[tid] += s_sum[tid + stride];
        s_squares[tid] += s_squares[tid + stride];
      }
      barrier();
    }
    if (tid == 0u) {
      const float shift = s_sum[0] / float(count);                                   // mean − pivot
      const float deviations = max(s_squares[0] - s_sum[0] * shift, 0.0);           // Σ (x − mean)²
      const float mean = pivot + shift;
      save_mean[c] = mean;
      save_invstd[c] = inversesqrt(deviations / float(count) + e);
      running_mean[c] = m * mean + (1.0 - m) * running_mean[c];
      running_var[c] = m * (deviations / float(count - 1u)) + (1.0 - m) * running_var[c];
      if (c == 0u) num_batches_tracked[0] += 1.0;
    }
    barrier();  // invocation 0 has read the totals before the next channel overwrites them
  }
}

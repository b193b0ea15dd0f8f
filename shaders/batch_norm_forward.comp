#version 450
// Batch normalization, training forward (torch.nn.BatchNorm1d/2d in train mode); reference/batch_norm.hpp
// (batch_norm_forward_training) is its spec. x is (N, C, L); channel c has the M = N*L values x[n, c, l].
//
// One workgroup per channel (a grid-stride loop over channels covers any count): the invocations sum strided
// slices of the channel and a shared-memory tree adds the partial sums, so the order of every sum depends only
// on M and the workgroup size: deterministic. Three passes over the channel: the mean, then the squares about
// that mean (accurate where Σx² − M·mean² would cancel), then y. Invocation 0 then writes what backward needs
// and moves the running statistics (momentum, the UNBIASED variance, as PyTorch); the workgroup of channel 0
// also counts the batch.
layout(local_size_x_id = 0) in;  // WG: a power of two

layout(binding = 0) readonly buffer X { float x[]; };                    // (N, C, L)
layout(binding = 1) readonly buffer Weight { float weight[]; };          // (C)
layout(binding = 2) readonly buffer Bias { float bias[]; };              // (C)
layout(binding = 3) writeonly buffer Y { float y[]; };                   // (N, C, L)
layout(binding = 4) writeonly buffer SaveMean { float save_mean[]; };    // (C): the batch mean
layout(binding = 5) writeonly buffer SaveInvstd { float save_invstd[]; };  // (C): 1 / sqrt(biased var + eps)
layout(binding = 6) buffer RunningMean { float running_mean[]; };        // (C)
layout(binding = 7) buffer RunningVar { float running_var[]; };          // (C)
layout(binding = 8) buffer Tracked { float num_batches_tracked[]; };     // (): one value
layout(push_constant) uniform Params {
  uint N;
  uint C;
  uint L;
  float eps;
  float momentum;
};

shared float s_partial[gl_WorkGroupSize.x];

// The workgroup's sum of `value`, one per invocation, by a tree in shared memory. Called in uniform control flow.
float workgroup_sum(float value) {
  const uint tid = gl_LocalInvocationID.x;
  s_partial[tid] = value;
  barrier();
  for (uint stride = gl_WorkGroupSize.x / 2u; stride > 0u; stride /= 2u) {
    if (tid < stride) s_partial[tid] += s_partial[tid + stride];
    barrier();
  }
  const float total = s_partial[0];
  barrier();  // everyone has read the total before the next sum overwrites s_partial
  return total;
}

void main() {
  // Push constants are read once, outside all control flow (inside it, llvmpipe gathers them per lane).
  const uint n_count = N, channels = C, l_count = L;
  const float e = eps, m = momentum;
  const uint count = n_count * l_count;  // M
  const uint tid = gl_LocalInvocationID.x;
  for (uint c = gl_WorkGroupID.x; c < channels; c += gl_NumWorkGroups.x) {  // uniform in the workgroup
    // Element i = n*L + l of channel c is x[(n*C + c)*L + l].
    float sum = 0.0;
    for (uint i = tid; i < count; i += gl_WorkGroupSize.x) {
      const uint n = i / l_count;
      sum += x[(n * channels + c) * l_count + (i - n * l_count)];
    }
    const float mean = workgroup_sum(sum) / float(count);
    float squares = 0.0;
    for (uint i = tid; i < count; i += gl_WorkGroupSize.x) {
      const uint n = i / l_count;
      const float d = x[(n * channels + c) * l_count + (i - n * l_count)] - mean;
      squares += d * d;
    }
    const float total_squares = workgroup_sum(squares);
    const float invstd = inversesqrt(total_squares / float(count) + e);
    const float scale = invstd * weight[c], shift = bias[c];
    for (uint i = tid; i < count; i += gl_WorkGroupSize.x) {
      const uint n = i / l_count;
      const uint index = (n * channels + c) * l_count + (i - n * l_count);
      y[index] = (x[index] - mean) * scale + shift;
    }
    if (tid == 0u) {
      save_mean[c] = mean;
      save_invstd[c] = invstd;
      running_mean[c] = m * mean + (1.0 - m) * running_mean[c];
      running_var[c] = m * (total_squares / float(count - 1u)) + (1.0 - m) * running_var[c];
      if (c == 0u) num_batches_tracked[0] += 1.0;
    }
  }
}

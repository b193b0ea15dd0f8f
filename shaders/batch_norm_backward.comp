#version 450
// Batch normalization, backward of the training forward; reference/batch_norm.hpp (batch_norm_backward) is
// its spec. x, dy, dx (N, C, L); channel c has M = N*L values. With x^ = (x - save_mean[c]) * save_invstd[c]:
//   dbias[c] = sum dy, dweight[c] = sum dy * x^,
//   dx = weight[c] * save_invstd[c] * (dy - dbias[c] / M - x^ * dweight[c] / M).
// One workgroup per channel, both sums in one shared-memory tree (deterministic, as batch_norm_forward.comp).
// Written (=), never accumulated.
layout(local_size_x_id = 0) in;                  // WG: a power of two
layout(constant_id = 1) const uint WITH_DX = 1;  // 0: dL/dx is not wanted, binding 5 is never written

layout(binding = 0) readonly buffer DY { float dy[]; };                   // (N, C, L)
layout(binding = 1) readonly buffer X { float x[]; };                     // (N, C, L): the forward's input
layout(binding = 2) readonly buffer Weight { float weight[]; };           // (C)
layout(binding = 3) readonly buffer SaveMean { float save_mean[]; };      // (C): from the forward
layout(binding = 4) readonly buffer SaveInvstd { float save_invstd[]; };  // (C): from the forward
layout(binding = 5) writeonly buffer DX { float dx[]; };                  // (N, C, L)
layout(binding = 6) writeonly buffer DWeight { float dweight[]; };        // (C)
layout(binding = 7) writeonly buffer DBias { float dbias[]; };            // (C)
layout(push_constant) uniform Params {
  uint N;
  uint C;
  uint L;
};

shared float s_dy[gl_WorkGroupSize.x];
shared float s_dy_xhat[gl_WorkGroupSize.x];

void main() {
  const uint n_count = N, channels = C, l_count = L;
  const uint count = n_count * l_count;  // M
  const uint tid = gl_LocalInvocationID.x;
  for (uint c = gl_WorkGroupID.x; c < channels; c += gl_NumWorkGroups.x) {  // uniform in the workgroup
    const float mean = save_mean[c], invstd = save_invstd[c];
    float sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (uint i = tid; i < count; i += gl_WorkGroupSize.x) {
      const uint n = i / l_count;
      const uint index = (n * channels + c) * l_count + (i - n * l_count);
      sum_dy += dy[index];
      sum_dy_xhat += dy[index] * ((x[index] - mean) * invstd);
    }
    s_dy[tid] = sum_dy;
    s_dy_xhat[tid] = sum_dy_xhat;
    barrier();
    for (uint stride = gl_WorkGroupSize.x / 2u; stride > 0u; stride /= 2u) {
      if (tid < stride) {
        s_dy[tid] += s_dy[tid + stride];
        s_dy_xhat[tid] += s_dy_xhat[tid + stride];
      }
      barrier();
    }
    const float total_dy = s_dy[0], total_dy_xhat = s_dy_xhat[0];
    barrier();  // everyone has read the totals before the next channel overwrites the shared arrays
    if (tid == 0u) {
      dbias[c] = total_dy;
      dweight[c] = total_dy_xhat;
    }
    if (WITH_DX != 0u) {
      const float scale = weight[c] * invstd;
      const float mean_dy = total_dy / float(count), mean_dy_xhat = total_dy_xhat / float(count);
      for (uint i = tid; i < count; i += gl_WorkGroupSize.x) {
        const uint n = i / l_count;
        const uint index = (n * channels + c) * l_count + (i - n * l_count);
        const float xhat = (x[index] - mean) * invstd;
        dx[index] = scale * (dy[index] - mean_dy - xhat * mean_dy_xhat);
      }
    }
  }
}

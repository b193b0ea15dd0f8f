#version 450
// Batch normalization backward, second half: the input gradient of the training forward, from the sums
// batch_norm_backward_sums.comp wrote; reference/batch_norm.hpp (batch_norm_backward) is its spec. With
// x^ = (x - save_mean[c]) * save_invstd[c] over channel c's M = N*L values:
//   dx = weight[c] * save_invstd[c] * (dy - dbias[c] / M - x^ * dweight[c] / M).
// Workgroups take whole planes (n, c), as batch_norm_normalize.comp. Written (=).
layout(local_size_x_id = 0) in;  // workgroup size

layout(binding = 0, r32f) readonly uniform imageBuffer DY;                   // (N, C, L)
layout(binding = 1, r32f) readonly uniform imageBuffer X;                     // (N, C, L): the forward's input
layout(binding = 2) readonly buffer Weight { float weight[]; };           // (C)
layout(binding = 3) readonly buffer SaveMean { float save_mean[]; };      // (C)
layout(binding = 4) readonly buffer SaveInvstd { float save_invstd[]; };  // (C)
layout(binding = 5) readonly buffer DWeight { float dweight[]; };         // (C): Σ dy · x^
layout(binding = 6) readonly buffer DBias { float dbias[]; };             // (C): Σ dy
layout(binding = 7) writeonly buffer DX { float dx[]; };                  // (N, C, L)
layout(push_constant) uniform Params {
  uint planes;  // N * C
  uint C;
  uint L;
  uint M;  // N * L
};

// dx of one element of channel c.
float dx_of(uint c, float g, float v, float per_value) {
  const float invstd = save_invstd[c];
  const float xhat = (v - save_mean[c]) * invstd;
  return weight[c] * invstd * (g - dbias[c] * per_value - xhat * (dweight[c] * per_value));
}

void main() {
  const uint plane_count = planes, channels = C, l_count = L;
  const float per_value = 1.0 / float(M);
  const uint tid = gl_LocalInvocationID.x;
  if (l_count >= gl_WorkGroupSize.x) {
    for (uint p = gl_WorkGroupID.x; p < plane_count; p += gl_NumWorkGroups.x) {  // uniform in the workgroup
      const uint c = p % channels;
      const float mean = save_mean[c], invstd = save_invstd[c], scale = weight[c] * invstd;
      const float mean_dy = dbias[c] * per_value, mean_dy_xhat = dweight[c] * per_value;
      const uint row = p * l_count;
      for (uint l = tid; l < l_count; l += gl_WorkGroupSize.x) {
        const float xhat = (imageLoad(X, int(row + l)).x - mean) * invstd;
        dx[row + l] = scale * (imageLoad(DY, int(row + l)).x - mean_dy - xhat * mean_dy_xhat);
      }
    }
  } else {
    const uint count = plane_count * l_count;
    for (uint i = gl_GlobalInvocationID.x; i < count; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
      dx[i] = dx_of((i / l_count) % channels, imageLoad(DY, int(i)).x, imageLoad(X, int(i)).x, per_value);
    }
  }
}

#version 450
// Batch normalization, eval forward (torch.nn.BatchNorm1d/2d in eval mode); reference/batch_norm.hpp
// (batch_norm_forward_eval) is its spec: element-wise with the running statistics,
// y = (x - running_mean[c]) * (1 / sqrt(running_var[c] + eps) * weight[c]) + bias[c], x and y (N, C, L).
layout(local_size_x_id = 0) in;  // workgroup size

layout(binding = 0) readonly buffer X { float x[]; };                     // (N, C, L)
layout(binding = 1) readonly buffer RunningMean { float running_mean[]; };  // (C)
layout(binding = 2) readonly buffer RunningVar { float running_var[]; };    // (C)
layout(binding = 3) readonly buffer Weight { float weight[]; };           // (C)
layout(binding = 4) readonly buffer Bias { float bias[]; };               // (C)
layout(binding = 5) writeonly buffer Y { float y[]; };                    // (N, C, L)
layout(push_constant) uniform Params {
  uint n;  // N * C * L
  uint C;
  uint L;
  float eps;
};

void main() {
  const uint count = n, channels = C, l_count = L;
  const float e = eps;
  for (uint i = gl_GlobalInvocationID.x; i < count; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    const uint c = (i / l_count) % channels;
    y[i] = (x[i] - running_mean[c]) * (inversesqrt(running_var[c] + e) * weight[c]) + bias[c];
  }
}

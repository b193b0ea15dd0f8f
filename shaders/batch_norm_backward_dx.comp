#version 450
// Batch normalization backward, second half: the input gradient of the training forward, from the sums
// batch_norm_backward_sums.comp wrote; reference/batch_norm.hpp (batch_norm_backward) is its spec. With
// x^ = (x - save_mean[c]) * save_invstd[c] over channel c's M = N*L values:
//   dx = weight[c] * save_invstd[c] * (dy - dbias[c] / M - x^ * dweight[c] / M).
// Workgroups take whole planes (n, c), as batch_norm_normalize.comp, and planes of a multiple of four values
// go through the vec4 bindings (ops/quads.hpp). Written (=). With RELU = 1, dy is the gradient of the ReLU'd
// output y and is taken where y > 0 only, as in batch_norm_backward_sums.comp.
layout(local_size_x_id = 0) in;  // workgroup size
layout(constant_id = 1) const uint RELU = 0;
// The dispatch's shape, fixed on the host (ops/batch_norm.cpp) so that a pipeline holds only the path it runs:
// lavapipe runs both sides of every branch (under masks), even one no lane takes.
layout(constant_id = 2) const uint PLANES = 1;  // 1: L >= the workgroup size, a workgroup takes whole planes
layout(constant_id = 3) const uint QUADS = 1;   // 1: L % 4 == 0, planes move in quads
layout(constant_id = 4) const uint UNIT_EACH = 0;  // 1: a plane's quads are exactly the workgroup: no inner loop

layout(binding = 0, r32f) readonly uniform imageBuffer DY;          // (N, C, L)
layout(binding = 1, r32f) readonly uniform imageBuffer X;           // (N, C, L): the forward's input
layout(binding = 2, r32f) readonly uniform imageBuffer Weight;      // (C)
layout(binding = 3, r32f) readonly uniform imageBuffer SaveMean;    // (C)
layout(binding = 4, r32f) readonly uniform imageBuffer SaveInvstd;  // (C)
layout(binding = 5, r32f) readonly uniform imageBuffer DWeight;     // (C): Σ dy · x^
layout(binding = 6, r32f) readonly uniform imageBuffer DBias;       // (C): Σ dy
layout(binding = 7) writeonly buffer DX { float dx[]; };            // (N, C, L)
layout(binding = 8, rgba32f) readonly uniform imageBuffer DY4;      // (N, C, L / 4), read if L % 4 == 0
layout(binding = 9, rgba32f) readonly uniform imageBuffer X4;       // (N, C, L / 4), read if L % 4 == 0
layout(binding = 10) writeonly buffer DX4 { vec4 dx4[]; };          // (N, C, L / 4), written if L % 4 == 0
layout(binding = 11, r32f) readonly uniform imageBuffer Y;          // (N, C, L): the output, read if RELU
layout(binding = 12, rgba32f) readonly uniform imageBuffer Y4;      // (N, C, L / 4), read if RELU, L % 4 == 0
layout(push_constant) uniform Params {
  uint planes;  // N * C
  uint C;
  uint L;
  uint M;  // N * L
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

// dx of one element of channel c.
float dx_of(uint c, float g, float v, float per_value) {
  const float invstd = imageLoad(SaveInvstd, int(c)).x;
  const float xhat = (v - imageLoad(SaveMean, int(c)).x) * invstd;
  const float mean_dy = imageLoad(DBias, int(c)).x * per_value;
  const float mean_dy_xhat = imageLoad(DWeight, int(c)).x * per_value;
  return imageLoad(Weight, int(c)).x * invstd * (g - mean_dy - xhat * mean_dy_xhat);
}

void main() {
  const uint plane_count = planes, channels = C, l_count = L;
  const float per_value = 1.0 / float(M);
  const uint tid = gl_LocalInvocationID.x;
  g_scale = gradient_scale;  // read outside control flow: inside it, llvmpipe gathers push constants per lane
  if (PLANES == 1) {
    for (uint p = gl_WorkGroupID.x; p < plane_count; p += gl_NumWorkGroups.x) {  // uniform in the workgroup
      const uint c = p % channels;
      const float mean = imageLoad(SaveMean, int(c)).x, invstd = imageLoad(SaveInvstd, int(c)).x;
      const float scale = imageLoad(Weight, int(c)).x * invstd;
      const float mean_dy = imageLoad(DBias, int(c)).x * per_value;
      const float mean_dy_xhat = imageLoad(DWeight, int(c)).x * per_value;
      if (QUADS == 1) {
        const uint row = p * (l_count >> 2);
        if (UNIT_EACH == 1) {
          const vec4 xhat = (imageLoad(X4, int(row + tid)) - mean) * invstd;
          dx4[row + tid] = scale * (gradient4(row + tid) - mean_dy - xhat * mean_dy_xhat);
        } else {
          for (uint l = tid; l < l_count >> 2; l += gl_WorkGroupSize.x) {
            const vec4 xhat = (imageLoad(X4, int(row + l)) - mean) * invstd;
            dx4[row + l] = scale * (gradient4(row + l) - mean_dy - xhat * mean_dy_xhat);
          }
        }
      } else {
        const uint row = p * l_count;
        for (uint l = tid; l < l_count; l += gl_WorkGroupSize.x) {
          const float xhat = (imageLoad(X, int(row + l)).x - mean) * invstd;
          dx[row + l] = scale * (gradient(row + l) - mean_dy - xhat * mean_dy_xhat);
        }
      }
    }
  } else {
    const uint count = plane_count * l_count;
    for (uint i = gl_GlobalInvocationID.x; i < count; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
      dx[i] = dx_of((i / l_count) % channels, gradient(i), imageLoad(X, int(i)).x, per_value);
    }
  }
}

#version 450
// y = x > 0 ? x : 0, a select rather than max(), so NaN and -0 give +0 as in reference/relu.hpp. y may be x.
layout(local_size_x_id = 0) in;  // workgroup size

layout(binding = 0, r32f) readonly uniform imageBuffer X;   // (n)
layout(binding = 1) writeonly buffer Y { float y[]; };  // (n)
layout(push_constant) uniform Params { uint n; };

void main() {
  const uint count = n;  // read outside the loop: inside it, llvmpipe gathers push constants per lane
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < count; i += stride) {
    const float v = imageLoad(X, int(i)).x;
    y[i] = v > 0.0 ? v : 0.0;
  }
}

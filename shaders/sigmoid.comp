#version 450
// Sigmoid, forward and backward in one shader; reference/sigmoid.hpp is its spec.
//   forward:  y = 1 / (1 + e^-x), computed from e = e^-|x| <= 1 so that no exponential overflows for large |x|:
//             1 / (1 + e) for x >= 0, e / (1 + e) below. NaN stays NaN; +-inf give 1 and 0.
//   backward: dx = dy * y * (1 - y), from the forward's output y (as PyTorch), so that an in-place sigmoid,
//             which keeps only y, can still be differentiated.
layout(local_size_x_id = 0) in;                   // workgroup size
layout(constant_id = 1) const uint BACKWARD = 0;  // 0: forward, 1: backward

layout(binding = 0, r32f) readonly uniform imageBuffer In;    // (n): forward x; backward y, the forward's output
layout(binding = 1, r32f) readonly uniform imageBuffer DY;   // (n): backward dy; unread forward (the caller binds x)
layout(binding = 2) writeonly buffer Out { float o[]; };  // (n): forward y, backward dx; may be binding 0 or 1 (in place)
layout(push_constant) uniform Params { uint n; };

void main() {
  const uint count = n;  // read outside the loop: inside it, llvmpipe gathers push constants per lane
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < count; i += stride) {
    const float a = imageLoad(In, int(i)).x;
    if (BACKWARD == 0) {
      const float e = exp(-abs(a));
      o[i] = a >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    } else {
      o[i] = imageLoad(DY, int(i)).x * a * (1.0 - a);
    }
  }
}

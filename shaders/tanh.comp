#version 450
// Tanh, forward and backward in one shader; reference/tanh.hpp is its spec.
//   forward:  y = tanh(x), not with GLSL's tanh(), whose precision Vulkan leaves to each driver's formula (on
//             lavapipe tanh(1e-30) is 3e-8, and e^x / e^-x formulas can overflow to NaN near |x| = 88), but as
//             - |x| < 1/4: the Taylor series x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835, within 1e-8 relative
//               there; it keeps -0, tiny values and denormals as they are;
//             - otherwise: (1 - e) / (1 + e) with e = e^(-2|x|) <= 1, so nothing overflows, and the sign of x.
//             NaN stays NaN; +-inf give +-1.
//   backward: dx = dy * (1 - y * y), from the forward's output y (as PyTorch), so that an in-place tanh can still
//             be differentiated.
layout(local_size_x_id = 0) in;                   // workgroup size
layout(constant_id = 1) const uint BACKWARD = 0;  // 0: forward, 1: backward

layout(binding = 0, r32f) readonly uniform imageBuffer In;    // (n): forward x; backward y, the forward's output
layout(binding = 1) readonly buffer DY { float dy[]; };   // (n): backward dy; unread forward (the caller binds x)
layout(binding = 2) writeonly buffer Out { float o[]; };  // (n): forward y, backward dx; may be binding 0 or 1 (in place)
layout(push_constant) uniform Params { uint n; };

float tanh_of(float x) {
  const float s = x * x;
  const float series = x * (1.0 + s * (-1.0 / 3.0 + s * (2.0 / 15.0 + s * (-17.0 / 315.0 + s * (62.0 / 2835.0)))));
  const float e = exp(-2.0 * abs(x));
  const float t = (1.0 - e) / (1.0 + e);
  return abs(x) < 0.25 ? series : (x < 0.0 ? -t : t);
}

void main() {
  const uint count = n;  // read outside the loop: inside it, llvmpipe gathers push constants per lane
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < count; i += stride) {
    const float a = imageLoad(In, int(i)).x;
    o[i] = BACKWARD == 0 ? tanh_of(a) : dy[i] * (1.0 - a * a);
  }
}

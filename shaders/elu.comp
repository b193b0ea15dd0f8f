#version 450
// ELU, forward and backward in one shader; reference/elu.hpp is its spec. Both passes test x <= 0, as PyTorch:
//   forward:  y = x <= 0 ? alpha * (e^x - 1) : x. Computed as written, e^x - 1 loses most digits of a small |x| to
//             cancellation (at x = -1e-6 it can be 3% off), and GLSL has no expm1, so above x = -1/2 the Taylor
//             series to x^8 (within 2e-8 relative there) takes its place; it keeps -0 as -0. NaN stays NaN, -inf
//             gives -alpha.
//   backward: dx = x <= 0 ? dy * alpha * e^x : dy, from the forward's input x: ELU'(0) = alpha, from the x <= 0
//             side, and a NaN input passes dy back, as PyTorch.
layout(local_size_x_id = 0) in;                   // workgroup size
layout(constant_id = 1) const uint BACKWARD = 0;  // 0: forward, 1: backward

layout(binding = 0, r32f) readonly uniform imageBuffer In;    // (n): x, the forward's input (both passes)
layout(binding = 1, r32f) readonly uniform imageBuffer DY;   // (n): backward dy; unread forward (the caller binds x)
layout(binding = 2) writeonly buffer Out { float o[]; };  // (n): forward y, backward dx; may be binding 0 or 1 (in place)
layout(push_constant) uniform Params {
  uint n;       // element count
  float alpha;  // finite (ops/elu.cpp checks)
};

// e^x - 1 for x <= 0.
float expm1_nonpositive(float x) {
  const float series =
      x * (1.0 + x * (1.0 / 2.0 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x * (1.0 / 720.0 +
      x * (1.0 / 5040.0 + x * (1.0 / 40320.0))))))));
  return x > -0.5 ? series : exp(x) - 1.0;
}

void main() {
  const uint count = n;  // read outside the loop: inside it, llvmpipe gathers push constants per lane
  const float a = alpha;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < count; i += stride) {
    const float x = imageLoad(In, int(i)).x;
    if (BACKWARD == 0) {
      o[i] = x <= 0.0 ? a * expm1_nonpositive(x) : x;
    } else {
      const float g = imageLoad(DY, int(i)).x;  // loaded on both sides of the select (see relu_backward.comp)
      o[i] = x <= 0.0 ? g * a * exp(x) : g;
    }
  }
}

#version 450
// LeakyReLU, forward and backward in one shader; reference/leaky_relu.hpp is its spec.
//   forward:  y = x > 0 ? x : negative_slope * x (so -0 gives -0 * negative_slope, NaN gives NaN);
//   backward: dx = x > 0 ? dy : negative_slope * dy, from the forward's input x: the test is x > 0 as in PyTorch,
//             so LeakyReLU'(0) = negative_slope, and a NaN input passes negative_slope * dy.
// Both are selects of one correctly rounded product, so they equal the reference in float bit for bit.
layout(local_size_x_id = 0) in;                   // workgroup size
layout(constant_id = 1) const uint BACKWARD = 0;  // 0: forward, 1: backward

layout(binding = 0, r32f) readonly uniform imageBuffer In;    // (n): x, the forward's input (both passes)
layout(binding = 1, r32f) readonly uniform imageBuffer DY;   // (n): backward dy; unread forward (the caller binds x)
layout(binding = 2) writeonly buffer Out { float o[]; };  // (n): forward y, backward dx; may be binding 0 or 1 (in place)
layout(push_constant) uniform Params {
  uint n;                // element count
  float negative_slope;  // finite (ops/leaky_relu.cpp checks)
};

void main() {
  const uint count = n;  // read outside the loop: inside it, llvmpipe gathers push constants per lane
  const float slope = negative_slope;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < count; i += stride) {
    const float a = imageLoad(In, int(i)).x;
    // Backward reads dy unconditionally, then selects: a load under a data-dependent branch costs llvmpipe a
    // mispredicted branch per lane.
    const float g = BACKWARD == 0 ? a : imageLoad(DY, int(i)).x;
    o[i] = a > 0.0 ? g : slope * g;
  }
}

#version 450
// y = x, the memory-bandwidth yardstick the other kernels are measured against. It moves floats as the
// element-wise kernels do (ops/quads.hpp): whole quads through the vec4 bindings, through a grid-stride loop,
// the last partial quad through the float ones.
layout(local_size_x_id = 0) in;  // workgroup size, a specialization constant

layout(binding = 0, r32f) readonly uniform imageBuffer X;     // (n)
layout(binding = 1) writeonly buffer Y { float y[]; };        // (n)
layout(binding = 2, rgba32f) readonly uniform imageBuffer X4;  // (n / 4): x's whole quads
layout(binding = 3) writeonly buffer Y4 { vec4 y4[]; };       // (n / 4): y's whole quads
layout(push_constant) uniform Params { uint n; };

void main() {
  const uint count = n;  // read outside the loop: inside it, llvmpipe gathers push constants per lane
  const uint whole = count >> 2, quads = whole + ((count & 3u) != 0u ? 1u : 0u);
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint q = gl_GlobalInvocationID.x; q < quads; q += stride) {
    if (q < whole) {
      y4[q] = imageLoad(X4, int(q));
    } else {
      for (uint i = q << 2; i < count; ++i) y[i] = imageLoad(X, int(i)).x;
    }
  }
}

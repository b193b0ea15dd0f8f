#version 450
// y = x > 0 ? x : 0, a select rather than max(), so NaN and -0 give +0 as in reference/relu.hpp. y may be x.
// Whole quads go through the vec4 bindings, the last partial quad through the float ones (ops/quads.hpp).
layout(local_size_x_id = 0) in;  // workgroup size

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
      const vec4 v = imageLoad(X4, int(q));
      y4[q] = mix(vec4(0.0), v, greaterThan(v, vec4(0.0)));
    } else {
      for (uint i = q << 2; i < count; ++i) {
        const float v = imageLoad(X, int(i)).x;
        y[i] = v > 0.0 ? v : 0.0;
      }
    }
  }
}

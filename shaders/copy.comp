#version 450
// y = x, one float per invocation: the memory-bandwidth yardstick the other kernels are measured against.
layout(local_size_x_id = 0) in;  // workgroup size, a specialization constant

layout(binding = 0, r32f) readonly uniform imageBuffer X;   // (n)
layout(binding = 1) writeonly buffer Y { float y[]; };  // (n)
layout(push_constant) uniform Params { uint n; };

void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i < n) y[i] = imageLoad(X, int(i)).x;
}

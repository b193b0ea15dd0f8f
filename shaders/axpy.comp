#version 450
// y += alpha * x.
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer X { float x[]; };  // (n)
layout(binding = 1) buffer Y { float y[]; };           // (n)
layout(push_constant) uniform Params {
  uint n;
  float alpha;
};

void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i < n) y[i] += alpha * x[i];
}

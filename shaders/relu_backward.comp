#version 450
// dx = y > 0 ? dy : 0, with y relu's output: y > 0 exactly where relu's input was > 0, so ReLU'(0) = 0 as in
// PyTorch, and an in-place relu, which keeps only y, can still be differentiated. dx may be dy.
layout(local_size_x_id = 0) in;  // workgroup size

layout(binding = 0, r32f) readonly uniform imageBuffer DY;   // (n)
layout(binding = 1, r32f) readonly uniform imageBuffer Yout;  // (n): relu's output
layout(binding = 2) writeonly buffer DX { float dx[]; };  // (n)
layout(push_constant) uniform Params { uint n; };

void main() {
  const uint count = n;  // read outside the loop: inside it, llvmpipe gathers push constants per lane
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < count; i += stride) {
    // Both loads unconditional, then a select: loading dy only where y > 0 would cost llvmpipe a
    // mispredicted branch per lane, and saves no memory traffic on a GPU (the lines are shared).
    const float g = imageLoad(DY, int(i)).x;
    const float v = imageLoad(Yout, int(i)).x;
    dx[i] = v > 0.0 ? g : 0.0;
  }
}

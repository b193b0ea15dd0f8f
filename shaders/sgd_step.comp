#version 450
// One SGD step, torch.optim.SGD with dampening 0 (reference/optimizers.hpp, ref::sgd_step):
//   g' = g + wd·w;  v = momentum·v + g';  step = nesterov ? g' + momentum·v : v;  w -= lr·step.
// lr and momentum come from the device tensor `hyper`, so a schedule can change them between replays of
// the same recording. With momentum 0, v = g' and the step is plain SGD, as PyTorch's (which keeps no
// buffer then); v is written either way.
layout(local_size_x_id = 0) in;

layout(binding = 0) buffer W { float w[]; };                 // (n)
layout(binding = 1) readonly buffer G { float g[]; };        // (n)
layout(binding = 2) buffer V { float v[]; };                 // (n) momentum buffer, starts at 0
layout(binding = 3) readonly buffer Hyper { float hyper[4]; };  // (4) [lr, momentum, -, -]
layout(push_constant) uniform Params {
  uint n;
  float weight_decay;
  uint nesterov;  // 0 or 1
};

void main() {
  const float lr = hyper[0];
  const float momentum = hyper[1];
  for (uint i = gl_GlobalInvocationID.x; i < n; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    float grad = g[i];
    if (weight_decay != 0.0) grad += weight_decay * w[i];
    const float velocity = momentum * v[i] + grad;
    v[i] = velocity;
    const float step = nesterov != 0u ? grad + momentum * velocity : velocity;
    w[i] -= lr * step;
  }
}

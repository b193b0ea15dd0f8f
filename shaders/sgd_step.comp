#version 450
// One SGD step, torch.optim.SGD with dampening 0 (reference/optimizers.hpp, ref::sgd_step):
//   g' = g + wd·w;  v = momentum·v + g';  step = nesterov ? g' + momentum·v : v;  w -= lr·step.
// lr and momentum come from the device tensor `hyper`, so a schedule can change them between replays of
// the same recording. With momentum 0, v = g' and the step is plain SGD, as PyTorch's (which keeps no
// buffer then); v is written either way.
layout(local_size_x_id = 0) in;

layout(binding = 0) writeonly buffer W { float w[]; };       // (n)
layout(binding = 1, r32f) readonly uniform imageBuffer G;    // (n)
layout(binding = 2) writeonly buffer V { float v[]; };       // (n) momentum buffer, starts at 0
layout(binding = 3) readonly buffer Hyper { float hyper[4]; };  // (4) [lr, momentum, -, -]
// w and v again, read through texel buffers: lavapipe loads a texel for all lanes at once (a gather) and a
// storage buffer lane by lane. Each element is read before it is written, by the invocation that writes it.
layout(binding = 4, r32f) readonly uniform imageBuffer W_in;  // (n)
layout(binding = 5, r32f) readonly uniform imageBuffer V_in;  // (n)
layout(push_constant) uniform Params {
  uint n;
  float weight_decay;
  uint nesterov;  // 0 or 1
};

void main() {
  // Push constants and hyper-parameters copied to locals once: lavapipe re-reads them per lane inside loops.
  const float lr = hyper[0];
  const float momentum = hyper[1];
  const uint count = n;
  const float wd = weight_decay;
  const bool use_nesterov = nesterov != 0u;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < count; i += stride) {
    // Every load unconditional and the choices made by select: lavapipe turns a conditional load into a
    // branch per lane. With wd = 0, g + 0·w is g.
    const float weight = imageLoad(W_in, int(i)).x;
    const float grad = imageLoad(G, int(i)).x + wd * weight;
    const float velocity = momentum * imageLoad(V_in, int(i)).x + grad;
    v[i] = velocity;
    const float step = use_nesterov ? grad + momentum * velocity : velocity;
    w[i] = weight - lr * step;
  }
}

#version 450
// totals += [Σ row_loss, Σ row_correct, B, 0]: the running sums a training loop reads back every N steps.
// One workgroup: B is a batch (tens to thousands of rows), so one group with a shared-memory tree is
// cheaper than any multi-pass scheme and needs no atomics on floats.
layout(local_size_x_id = 0) in;  // WG: a power of two

layout(binding = 0) buffer Totals { float totals[4]; };                // (4)
layout(binding = 1) readonly buffer RowLoss { float row_loss[]; };     // (B)
layout(binding = 2) readonly buffer RowCorrect { uint row_correct[]; };  // (B)
layout(push_constant) uniform Params { uint B; };

shared float s_loss[gl_WorkGroupSize.x];
shared uint s_correct[gl_WorkGroupSize.x];

void main() {
  const uint tid = gl_LocalInvocationID.x;
  float loss = 0.0;
  uint correct = 0u;  // integer: exact, whatever the order
  for (uint i = tid; i < B; i += gl_WorkGroupSize.x) {
    loss += row_loss[i];
    correct += row_correct[i];
  }
  s_loss[tid] = loss;
  s_correct[tid] = correct;
  barrier();
  for (uint stride = gl_WorkGroupSize.x / 2u; stride > 0u; stride /= 2u) {
    if (tid < stride) {
      s_loss[tid] += s_loss[tid + stride];
      s_correct[tid] += s_correct[tid + stride];
    }
    barrier();
  }
  if (tid == 0) {
    totals[0] += s_loss[0];
    totals[1] += float(s_correct[0]);
    totals[2] += float(B);
  }
}

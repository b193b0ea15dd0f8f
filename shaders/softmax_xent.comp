#version 450
// Fused softmax cross-entropy, one workgroup per row (a grid-stride loop over rows covers any B):
//   row_loss[r]    = log Σ_j exp(z_j) - z_label, computed as m + log Σ_j exp(z_j - m) with m = max_j z_j,
//                    so logits of ±1000 stay finite;
//   row_correct[r] = argmax_j z_j == label (ties → lowest index, as torch.argmax);
//   dlogits[r, j]  = (softmax_j - onehot_j) / B  (only when WRITE_GRADIENT).
// The label is checked before it indexes anything: a label outside [0, C) sets status bit 0 and gives the
// row loss 0, correct 0 and a zero gradient row.
//
// Each invocation scans the columns j = tid, tid + WG, ... keeping its own (max, argmax, Σ exp(z - max));
// one shared-memory tree then merges those triples, so a row costs a single reduction.
layout(local_size_x_id = 0) in;  // WG: a power of two
// 0 in eval: binding 0 is then some other valid buffer (the caller binds row_loss) and is never written.
layout(constant_id = 1) const uint WRITE_GRADIENT = 1;

layout(binding = 0) writeonly buffer DLogits { float dlogits[]; };  // (B, C), or unused
layout(binding = 1) writeonly buffer RowLoss { float row_loss[]; };  // (B)
layout(binding = 2) writeonly buffer RowCorrect { uint row_correct[]; };  // (B)
layout(binding = 3, r32f) readonly uniform imageBuffer Logits;   // (B, C)
layout(binding = 4) readonly buffer Labels { int labels[]; };  // (B)
layout(binding = 5) buffer Status { uint status; };  // (1): bit 0 = a label was out of range
layout(push_constant) uniform Params {
  uint B;
  uint C;
};

shared float s_max[gl_WorkGroupSize.x];
shared uint s_arg[gl_WorkGroupSize.x];
shared float s_sum[gl_WorkGroupSize.x];  // Σ exp(z - s_max)

void main() {
  const uint tid = gl_LocalInvocationID.x;
  for (uint row = gl_WorkGroupID.x; row < B; row += gl_NumWorkGroups.x) {  // row is uniform in the group
    const uint base = row * C;
    const int label = labels[row];
    if (label < 0 || uint(label) >= C) {
      if (tid == 0) {
        atomicOr(status, 1u);
        row_loss[row] = 0.0;
        row_correct[row] = 0u;
      }
      if (WRITE_GRADIENT != 0)
        for (uint j = tid; j < C; j += gl_WorkGroupSize.x) dlogits[base + j] = 0.0;
      continue;
    }

    // This invocation's columns: max and its lowest index (ascending scan, strict >), then Σ exp(z - max).
    float m = 0.0;
    uint arg = 0u;
    float sum = 0.0;
    if (tid < C) {
      m = imageLoad(Logits, int(base + tid)).x;
      arg = tid;
      for (uint j = tid + gl_WorkGroupSize.x; j < C; j += gl_WorkGroupSize.x) {
        const float z = imageLoad(Logits, int(base + j)).x;
        if (z > m) {
          m = z;
          arg = j;
        }
      }
      for (uint j = tid; j < C; j += gl_WorkGroupSize.x) sum += exp(imageLoad(Logits, int(base + j)).x - m);
    }
    // In range: checked above.
    const float z_label = imageLoad(Logits, int(base + uint(label))).x;
    s_max[tid] = m;
    s_arg[tid] = arg;
    s_sum[tid] = sum;
    barrier();

    for (uint stride = gl_WorkGroupSize.x / 2u; stride > 0u; stride /= 2u) {
      if (tid < stride) {
        // Entry k merges invocations k, k + 2·stride, ...: it has seen columns iff k < C. (Testing the
        // index, not sum > 0, keeps a NaN sum flowing into the loss, where the host detects it.)
        if (tid + stride < C) {
          const float m2 = s_max[tid + stride];
          const uint arg2 = s_arg[tid + stride];
          const float sum2 = s_sum[tid + stride];
          const float merged = max(m, m2);
          sum = sum * exp(m - merged) + sum2 * exp(m2 - merged);
          if (m2 > m || (m2 == m && arg2 < arg)) arg = arg2;
          m = merged;
          s_max[tid] = m;
          s_arg[tid] = arg;
          s_sum[tid] = sum;
        }
      }
      barrier();
    }
    const float row_max = s_max[0];
    const float row_sum = s_sum[0];
    const uint row_arg = s_arg[0];
    if (tid == 0) {
      row_loss[row] = row_max + log(row_sum) - z_label;
      row_correct[row] = row_arg == uint(label) ? 1u : 0u;
    }
    if (WRITE_GRADIENT != 0) {
      const float inv_sum = 1.0 / row_sum;
      for (uint j = tid; j < C; j += gl_WorkGroupSize.x) {
        const float softmax = exp(imageLoad(Logits, int(base + j)).x - row_max) * inv_sum;
        dlogits[base + j] = (softmax - (j == uint(label) ? 1.0 : 0.0)) / float(B);
      }
    }
    // The next row overwrites the shared arrays: everyone must have read s_*[0] first.
    barrier();
  }
}

#version 450
// One Adam / AdamW step, torch.optim.Adam / AdamW (reference/optimizers.hpp, ref::adam_step), t >= 1:
//   Adam:  g' = g + wd·w                AdamW: w = w·(1 - lr·wd), g' = g
//   m = β1·m + (1-β1)·g';  v = β2·v + (1-β2)·g'²
//   w -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + eps)   (PyTorch's order of evaluation)
// lr comes from the device tensor `hyper` and t = step + 1 from the device counter `step`, so the same
// recording replays every step. PyTorch computes the bias corrections 1 - β^t on the host in double; here
// they are computed per dispatch in float, as -expm1(t·ln β) with ln β computed on the host in double:
// 1 - β^t by pow() would lose about 10 bits to cancellation for β2 = 0.999 and small t.
layout(local_size_x_id = 0) in;

layout(binding = 0) buffer W { float w[]; };                     // (n)
layout(binding = 1, r32f) readonly uniform imageBuffer G;            // (n)
layout(binding = 2) buffer M { float m[]; };                     // (n) first moment, starts at 0
layout(binding = 3) buffer V { float v[]; };                     // (n) second moment, starts at 0
layout(binding = 4) readonly buffer Hyper { float hyper[4]; };   // (4) [lr, -, -, -]
layout(binding = 5) readonly buffer Step { uint step_count[2]; };  // (2) steps taken, 64-bit (lo, hi)
layout(push_constant) uniform Params {
  uint n;
  float beta1;
  float beta2;
  float one_minus_beta1;  // rounded from double on the host, as the reference does
  float one_minus_beta2;
  float eps;
  float weight_decay;
  float log_beta1;  // ln β in double, rounded; -inf for β = 0
  float log_beta2;
  uint decoupled;  // 1: AdamW
};

// 1 - exp(x) for x <= 0, to float accuracy: Taylor series of -expm1 near 0, where 1 - exp(x) cancels.
float one_minus_exp(float x) {
  if (x > -0.35) {
    // -(x + x²/2! + ... + x⁸/8!): the next term is below 2^-25 of the sum for |x| <= 0.35.
    float p = 1.0 / 40320.0;
    p = p * x + 1.0 / 5040.0;
    p = p * x + 1.0 / 720.0;
    p = p * x + 1.0 / 120.0;
    p = p * x + 1.0 / 24.0;
    p = p * x + 1.0 / 6.0;
    p = p * x + 0.5;
    p = p * x + 1.0;
    return -(p * x);
  }
  return 1.0 - exp(max(x, -100.0));  // exp(-100) underflows harmlessly; clamping avoids inf·0 for β = 0
}

void main() {
  // t = step + 1; float holds it exactly up to 2^24 steps, beyond which β^t has long reached 0.
  const float t = float(step_count[1]) * 4294967296.0 + float(step_count[0]) + 1.0;
  const float lr = hyper[0];
  const float bias_correction1 = one_minus_exp(t * log_beta1);
  const float bias_correction2_sqrt = sqrt(one_minus_exp(t * log_beta2));
  const float step_size = lr / bias_correction1;
  const float decay = 1.0 - lr * weight_decay;  // AdamW's multiplicative decay
  for (uint i = gl_GlobalInvocationID.x; i < n; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    float grad = imageLoad(G, int(i)).x;
    float weight = w[i];
    if (weight_decay != 0.0) {
      if (decoupled != 0u) {
        weight *= decay;
      } else {
        grad += weight_decay * weight;
      }
    }
    const float m_new = beta1 * m[i] + one_minus_beta1 * grad;
    const float v_new = beta2 * v[i] + one_minus_beta2 * (grad * grad);
    m[i] = m_new;
    v[i] = v_new;
    const float denom = sqrt(v_new) / bias_correction2_sqrt + eps;
    w[i] = weight - step_size * (m_new / denom);
  }
}

#version 450
// probs[r] = softmax(logits[r]) per row, stable (max subtracted); with `accumulate` set, probs[r] +=
// softmax(logits[r]) instead, so that replaying a stochastic forward pass T times sums the T passes'
// probabilities in place (Monte Carlo dropout). One invocation per row: rows are short (classes) and this
// serves prediction, not the training step.
layout(local_size_x_id = 0) in;

layout(binding = 0, r32f) readonly uniform imageBuffer Logits;   // (rows, classes)
layout(binding = 1) buffer Probs { float probs[]; };             // (rows, classes)
layout(push_constant) uniform Params {
  uint rows;
  uint classes;
  uint accumulate;  // 0: probs = softmax, 1: probs += softmax
};

void main() {
  const uint r = gl_GlobalInvocationID.x;
  if (r >= rows) return;
  const uint n = classes;
  const bool add = accumulate != 0u;
  const uint base = r * n;
  float m = imageLoad(Logits, int(base)).x;
  for (uint c = 1u; c < n; ++c) m = max(m, imageLoad(Logits, int(base + c)).x);
  float sum = 0.0;
  for (uint c = 0u; c < n; ++c) sum += exp(imageLoad(Logits, int(base + c)).x - m);
  for (uint c = 0u; c < n; ++c) {
    const float p = exp(imageLoad(Logits, int(base + c)).x - m) / sum;
    const float before = probs[base + c];  // a select, not 0 * before: what was there may be NaN
    probs[base + c] = add ? before + p : p;
  }
}

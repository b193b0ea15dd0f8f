#version 450
// probs[r] = softmax(logits[r]) per row, stable (max subtracted). One invocation per row: rows are short
// (classes) and this serves prediction, not the training step.
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Logits { float logits[]; };  // (rows, classes)
layout(binding = 1) writeonly buffer Probs { float probs[]; };   // (rows, classes)
layout(push_constant) uniform Params {
  uint rows;
  uint classes;
};

void main() {
  uint r = gl_GlobalInvocationID.x;
  if (r >= rows) return;
  uint base = r * classes;
  float m = logits[base];
  for (uint c = 1u; c < classes; ++c) m = max(m, logits[base + c]);
  float sum = 0.0;
  for (uint c = 0u; c < classes; ++c) sum += exp(logits[base + c] - m);
  for (uint c = 0u; c < classes; ++c) probs[base + c] = exp(logits[base + c] - m) / sum;
}

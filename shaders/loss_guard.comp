#version 450
// Remember the first step whose running loss is not finite (NaN or inf): first_bad = step + 1 (64-bit),
// 0 while all is well. The host reads it with the metrics and stops training naming that step.
layout(local_size_x = 1) in;

layout(binding = 0) readonly buffer Totals { float totals[]; };  // (4): [loss sum, correct, rows, 0]
layout(binding = 1) readonly buffer Step { uint step[]; };       // (2)
layout(binding = 2) buffer FirstBad { uint first_bad[]; };       // (2)

void main() {
  float loss = totals[0];
  if ((isnan(loss) || isinf(loss)) && first_bad[0] == 0u && first_bad[1] == 0u) {
    uint carry;
    first_bad[0] = uaddCarry(step[0], 1u, carry);
    first_bad[1] = step[1] + carry;
  }
}

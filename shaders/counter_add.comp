#version 450
// counters[index] += amount, as a 64-bit value in two words (lo, hi). A recorded step advances its own
// per-step state (the RNG step, the batch position) with this, so replays need no host writes.
layout(local_size_x = 1) in;

layout(binding = 0) buffer Counters { uint counters[]; };
layout(push_constant) uniform Params {
  uint index;   // word index of the low half
  uint amount;
};

void main() {
  uint lo = counters[index];
  uint carry;
  counters[index] = uaddCarry(lo, amount, carry);
  counters[index + 1] += carry;
}

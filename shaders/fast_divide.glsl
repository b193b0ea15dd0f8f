// Division of a 32-bit index by a divisor that is the same for the whole dispatch, without a division
// instruction: a CPU device divides lane by lane (tens of cycles a lane), a GPU emulates integer division in
// many instructions, while a 32x32 -> 64-bit multiply is one SIMD instruction on both. ops/fast_divide.hpp
// computes the divisor's (magic, l) on the host; the method is Granlund and Montgomery 1994 (PLDI, "Division by
// invariant integers using multiplication", figure 4.1), exact for every 32-bit n and every divisor >= 1.
#ifndef FAST_DIVIDE_GLSL
#define FAST_DIVIDE_GLSL

// n / d for d described by divisor = (magic, l), l = ceil(log2(d)).
uint fast_divide(uint n, uvec2 divisor) {
  uint high, low;
  umulExtended(n, divisor.x, high, low);
  const uint l = divisor.y;
  return (high + ((n - high) >> min(l, 1u))) >> (max(l, 1u) - 1u);
}

#endif  // FAST_DIVIDE_GLSL

#pragma once
// Divisors for shaders/fast_divide.glsl: division of 32-bit indices by a value fixed for a dispatch, as a
// multiply and two shifts (Granlund and Montgomery 1994, figure 4.1). A shader takes each divisor as a uvec2
// push constant.

#include <cstdint>

namespace vkdrop::ops {

struct FastDivisor {
  uint32_t magic;  // floor(2^32 · (2^l − d) / d) + 1
  uint32_t l;      // ceil(log2(d))
};

// The description of d >= 1 (ArgumentError for 0).
FastDivisor fast_divisor(uint32_t d);

// What fast_divide.glsl computes: n / d for every 32-bit n.
constexpr uint32_t fast_divide(uint32_t n, FastDivisor divisor) {
  const uint32_t high = static_cast<uint32_t>((uint64_t{n} * divisor.magic) >> 32);
  const uint32_t first = divisor.l < 1 ? divisor.l : 1, second = (divisor.l > 1 ? divisor.l : 1) - 1;
  return (high + ((n - high) >> first)) >> second;
}

}  // namespace vkdrop::ops

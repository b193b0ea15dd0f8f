#pragma once
// Philox4x32 counter-based random number generator (Salmon, Moraes, Dror, Shaw 2011, "Parallel
// random numbers: as easy as 1, 2, 3"; the Random123 library). A pure function of (counter, key):
// no state, so the CPU and every GPU invocation can draw the same numbers in any order.
//
// This is the C++ twin of shaders/philox.glsl; the two must stay bit-identical. Both are checked
// against the published known-answer vectors in tests/data/philox4x32_10_kat.txt.

#include <array>
#include <cstdint>

namespace vkdrop::ref {

inline constexpr uint32_t k_philox_m0 = 0xD2511F53u;  // multiplier applied to ctr[0]
inline constexpr uint32_t k_philox_m1 = 0xCD9E8D57u;  // multiplier applied to ctr[2]
inline constexpr uint32_t k_philox_w0 = 0x9E3779B9u;  // Weyl key increment for key[0] (golden ratio)
inline constexpr uint32_t k_philox_w1 = 0xBB67AE85u;  // Weyl key increment for key[1] (sqrt(3) - 1)

// One Philox round. (hi, lo) are the two halves of the 64-bit product.
constexpr std::array<uint32_t, 4> philox4x32_round(std::array<uint32_t, 4> ctr, std::array<uint32_t, 2> key) {
  const uint64_t product0 = uint64_t{k_philox_m0} * ctr[0];
  const uint64_t product1 = uint64_t{k_philox_m1} * ctr[2];
  const uint32_t hi0 = uint32_t(product0 >> 32), lo0 = uint32_t(product0);
  const uint32_t hi1 = uint32_t(product1 >> 32), lo1 = uint32_t(product1);
  return {hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0};
}

// Philox4x32-R: four 32-bit random words from a 128-bit counter and a 64-bit key. The key is
// bumped by the Weyl increments before every round but the first. vkdrop uses rounds = 10 (the
// standard, Crush-resistant choice); other round counts exist only to check the 7-round vectors.
constexpr std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key,
                                             int rounds = 10) {
  for (int round = 0; round < rounds; ++round) {
    if (round > 0) {
      key[0] += k_philox_w0;
      key[1] += k_philox_w1;
    }
    counter = philox4x32_round(counter, key);
  }
  return counter;
}

// Known-answer vector from Random123, checked at compile time.
static_assert(philox4x32({0, 0, 0, 0}, {0, 0}) == std::array<uint32_t, 4>{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});

}  // namespace vkdrop::ref

// Philox4x32-10 counter-based random number generator (Salmon, Moraes, Dror, Shaw 2011, "Parallel
// random numbers: as easy as 1, 2, 3"; the Random123 library): four random words from a 128-bit
// counter and a 64-bit key, a pure function, so every invocation draws its own numbers in any order.
//
// Bit-identical twin of reference/philox.hpp (vkdrop::ref::philox4x32), which is checked against the
// published known-answer vectors in shared/rng/philox4x32_10_kat.txt. Change both or neither.
//
// Use: in a compute shader compiled with `glslc --target-env=vulkan1.1 -I shaders`,
//   #extension GL_GOOGLE_include_directive : require
//   #include "philox.glsl"
//
// Dropout masks are drawn through shaders/dropout_mask.glsl, which fixes how (seed, step, layer,
// element) map to counter and key. THE MASK CONTRACT, in short (reference/dropout_mask.hpp has it all):
//   key     = (uint32(seed), uint32(seed >> 32))
//   counter = (uint32(element / 4), layer, uint32(step), uint32(step >> 32))
//   word    = philox4x32_10(counter, key)[element % 4]
//   keep    = (word >> 8) < threshold,  threshold = round((1 - p) * 2^24) computed on the host in double

#ifndef PHILOX_GLSL
#define PHILOX_GLSL

const uint PHILOX_M0 = 0xD2511F53u;  // multiplier applied to ctr.x
const uint PHILOX_M1 = 0xCD9E8D57u;  // multiplier applied to ctr.z
const uint PHILOX_W0 = 0x9E3779B9u;  // Weyl key increment for key.x
const uint PHILOX_W1 = 0xBB67AE85u;  // Weyl key increment for key.y

// One Philox round; umulExtended gives the (hi, lo) halves of the 64-bit product.
uvec4 philox4x32_round(uvec4 ctr, uvec2 key) {
  uint hi0, lo0, hi1, lo1;
  umulExtended(PHILOX_M0, ctr.x, hi0, lo0);
  umulExtended(PHILOX_M1, ctr.z, hi1, lo1);
  return uvec4(hi1 ^ ctr.y ^ key.x, lo1, hi0 ^ ctr.w ^ key.y, lo0);
}

// Ten rounds; the key is bumped by the Weyl increments before every round but the first.
uvec4 philox4x32_10(uvec4 ctr, uvec2 key) {
  ctr = philox4x32_round(ctr, key);
  for (int round = 1; round < 10; ++round) {
    key += uvec2(PHILOX_W0, PHILOX_W1);
    ctr = philox4x32_round(ctr, key);
  }
  return ctr;
}

#ifdef PHILOX_CHAINS
// philox4x32_10 of PHILOX_CHAINS counters under one key, round by round across them: the same words, with
// PHILOX_CHAINS independent chains of dependent multiplies for the core to overlap (a CPU device runs an
// invocation's rounds one after another for all its lanes; see dropout.glsl).
void philox4x32_10_chains(inout uvec4 ctr[PHILOX_CHAINS], uvec2 key) {
  [[unroll]] for (int round = 0; round < 10; ++round) {
    if (round > 0) key += uvec2(PHILOX_W0, PHILOX_W1);
    [[unroll]] for (int c = 0; c < PHILOX_CHAINS; ++c) ctr[c] = philox4x32_round(ctr[c], key);
  }
}
#endif

#endif  // PHILOX_GLSL

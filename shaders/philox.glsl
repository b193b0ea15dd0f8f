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

// One Philox round: the (hi, lo) halves of two 32 x 32 -> 64-bit products. With PHILOX_U64 (a shader with 64-bit
// integers: dropout_interleaved_u64.comp, for CPU devices) as one 64-bit multiply each, which lavapipe compiles to a
// widening multiply and two narrowings; umulExtended becomes a high-half multiply plus a separate 32-bit one there
// (Mesa 22.3 lowers it so). The same bits; the interleaved dropout 1.3-1.4x faster (bench_dropout, 8 lanes).
uvec4 philox4x32_round(uvec4 ctr, uvec2 key) {
#if PHILOX_U64
  const uint64_t p0 = uint64_t(ctr.x) * uint64_t(PHILOX_M0), p1 = uint64_t(ctr.z) * uint64_t(PHILOX_M1);
  const uvec2 h0 = unpackUint2x32(p0), h1 = unpackUint2x32(p1);
  return uvec4(h1.y ^ ctr.y ^ key.x, h1.x, h0.y ^ ctr.w ^ key.y, h0.x);
#else
  uint hi0, lo0, hi1, lo1;
  umulExtended(PHILOX_M0, ctr.x, hi0, lo0);
  umulExtended(PHILOX_M1, ctr.z, hi1, lo1);
  return uvec4(hi1 ^ ctr.y ^ key.x, lo1, hi0 ^ ctr.w ^ key.y, lo0);
#endif
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

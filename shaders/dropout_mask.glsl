// The dropout mask contract, GPU side: which elements a dropout layer keeps. Bit-identical twin of
// reference/dropout_mask.hpp (vkdrop::ref::dropout_keep / dropout_words); change both or neither.
//
// THE MASK CONTRACT
//   seed    64-bit, one per training run, passed as uvec2(low word, high word).
//   step    64-bit optimizer step, passed as uvec2(low word, high word).
//   layer   the dropout layer's id.
//   element the flat element index (Dropout), or the channel index n*C + c (Dropout2d).
//
//   key       = (uint32(seed), uint32(seed >> 32))
//   counter   = (uint32(element / 4), layer, uint32(step), uint32(step >> 32))
//   word      = philox4x32_10(counter, key)[element % 4]
//   threshold = round((1 - p) * 2^24), computed once on the host in double (vkdrop::ref::keep_threshold)
//   keep      = (word >> 8) < threshold
//
//   Integer only, so the GPU and the CPU agree on every bit: p = 0 (threshold 2^24) always keeps,
//   p = 1 (threshold 0) never keeps. One Philox call serves the four elements 4q .. 4q+3.
//
//   Limit: dropout_keep takes element as uint, so element < 2^32; dropout_words / dropout_keep4
//   take the quad index q = element / 4 and reach element < 2^34.
//
// Use (glslc --target-env=vulkan1.1 -I shaders):
//   #extension GL_GOOGLE_include_directive : require
//   #include "dropout_mask.glsl"

#ifndef DROPOUT_MASK_GLSL
#define DROPOUT_MASK_GLSL

#include "philox.glsl"

// The four Philox words of elements 4*quad .. 4*quad + 3.
uvec4 dropout_words(uvec2 seed, uvec2 step, uint layer, uint quad) {
  return philox4x32_10(uvec4(quad, layer, step.x, step.y), seed);
}

// Whether dropout keeps `element`.
bool dropout_keep(uvec2 seed, uvec2 step, uint layer, uint element, uint threshold) {
  uint word = dropout_words(seed, step, layer, element >> 2)[element & 3u];
  return (word >> 8) < threshold;
}

// The keep decisions of elements 4*quad .. 4*quad + 3, from one Philox call.
bvec4 dropout_keep4(uvec2 seed, uvec2 step, uint layer, uint quad, uint threshold) {
  return lessThan(dropout_words(seed, step, layer, quad) >> 8, uvec4(threshold));
}

#ifdef PHILOX_CHAINS
// dropout_keep4 for the PHILOX_CHAINS quads quad[0 ..], their draws interleaved (philox4x32_10_chains): the
// same decisions.
void dropout_keep4_interleaved(uvec2 seed, uvec2 step, uint layer, uint quad[PHILOX_CHAINS], uint threshold,
                               out bvec4 keep[PHILOX_CHAINS]) {
  uvec4 words[PHILOX_CHAINS];
  [[unroll]] for (int c = 0; c < PHILOX_CHAINS; ++c) words[c] = uvec4(quad[c], layer, step.x, step.y);
  philox4x32_10_chains(words, seed);
  [[unroll]] for (int c = 0; c < PHILOX_CHAINS; ++c) keep[c] = lessThan(words[c] >> 8, uvec4(threshold));
}
#endif

#endif  // DROPOUT_MASK_GLSL

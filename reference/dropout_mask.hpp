#pragma once
// The dropout mask contract: which elements a dropout layer keeps. The GPU (shaders/dropout_mask.glsl)
// and this CPU reference compute the same bits, so the backward pass regenerates the forward mask
// instead of storing it, and a GPU run can be checked element by element against the CPU.
//
// THE MASK CONTRACT
//   seed    uint64, one per training run.
//   step    uint64, the optimizer step (a new mask every step).
//   layer   uint32, the dropout layer's id (a different mask for every layer at the same step).
//   element the flat element index (Dropout), or the channel index n*C + c (Dropout2d).
//
//   key       = (uint32(seed), uint32(seed >> 32))
//   counter   = (uint32(element / 4), layer, uint32(step), uint32(step >> 32))
//   word      = philox4x32_10(counter, key)[element % 4]
//   threshold = keep_threshold(p) = uint32(round((1 - p) * 2^24)), computed once on the host in double
//   keep      = (word >> 8) < threshold
//
//   Integer only: no float rounding enters the decision, so P(keep) = threshold / 2^24 exactly,
//   p = 0 (threshold 2^24) always keeps since word >> 8 < 2^24, and p = 1 (threshold 0) never keeps.
//   One Philox call yields the words of four consecutive elements 4q .. 4q+3 (dropout_words).
//
//   Limit: element / 4 must fit 32 bits, so element < 2^34. The GLSL dropout_keep takes element as
//   uint (element < 2^32); the GLSL dropout_words / dropout_keep4 take the quad index q = element / 4
//   and reach 2^34.

#include <vkdrop/reference/philox.hpp>
#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <cstdint>

namespace vkdrop::ref {

// Throws ArgumentError unless 0 <= p <= 1 (p is the probability to DROP, as in torch.nn.Dropout).
inline void check_dropout_p(double p) {
  if (!(p >= 0.0 && p <= 1.0)) {  // written this way so that NaN fails too
    throw ArgumentError(fmt::format("dropout probability p = {} is outside [0, 1]; p is the probability to drop "
                                    "an element, e.g. 0.5",
                                    p));
  }
}

// The integer keep threshold for drop probability p: round((1 - p) * 2^24), ties away from zero.
inline uint32_t keep_threshold(double p) {
  check_dropout_p(p);
  return uint32_t(std::llround((1.0 - p) * 16777216.0));  // 2^24; (1 - p) * 2^24 is in [0, 2^24]
}

// The four Philox words of elements 4*quad .. 4*quad + 3.
constexpr std::array<uint32_t, 4> dropout_words(uint64_t seed, uint64_t step, uint32_t layer, uint32_t quad) {
  const std::array<uint32_t, 2> key = {uint32_t(seed), uint32_t(seed >> 32)};
  const std::array<uint32_t, 4> counter = {quad, layer, uint32_t(step), uint32_t(step >> 32)};
  return philox4x32(counter, key);
}

// Whether dropout keeps `element` (the contract above).
inline bool dropout_keep(uint64_t seed, uint64_t step, uint32_t layer, uint64_t element, uint32_t threshold) {
  if (element >> 34 != 0) {
    throw ArgumentError(fmt::format("dropout element index {} is too large: the mask contract covers indices "
                                    "below 2^34",
                                    element));
  }
  const uint32_t word = dropout_words(seed, step, layer, uint32_t(element / 4))[element % 4];
  return (word >> 8) < threshold;
}

}  // namespace vkdrop::ref

#pragma once
// The order in which a training epoch visits its samples: a Fisher-Yates shuffle driven by Philox
// (seed, epoch), so it is the same on every platform and standard library, and a resumed run sees the
// orders an uninterrupted one would.

#include <vkdrop/reference/philox.hpp>

#include <array>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

namespace vkdrop::ref {

inline std::vector<uint32_t> epoch_order(int64_t count, uint64_t seed, uint64_t epoch) {
  std::vector<uint32_t> order(static_cast<size_t>(count));
  std::iota(order.begin(), order.end(), 0u);
  const std::array<uint32_t, 2> key = {uint32_t(seed), uint32_t(seed >> 32)};
  for (int64_t i = count - 1; i > 0; --i) {
    const auto words =
        philox4x32({uint32_t(i), 0x5348'5546u /* "SHUF" */, uint32_t(epoch), uint32_t(epoch >> 32)}, key);
    const uint64_t r = (uint64_t(words[0]) << 32 | words[1]) % uint64_t(i + 1);  // bias < 2^-32
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(r)]);
  }
  return order;
}

}  // namespace vkdrop::ref

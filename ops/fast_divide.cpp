#include <vkdrop/ops/fast_divide.hpp>

#include <vkdrop/runtime/error.hpp>

#include <bit>

namespace vkdrop::ops {

FastDivisor fast_divisor(uint32_t d) {
  if (d == 0) throw ArgumentError("fast_divisor: division by zero; every divisor a shader takes must be at least 1.");
  const uint32_t l = static_cast<uint32_t>(std::bit_width(d - 1));  // ceil(log2(d)); 0 for d = 1
  // 2^l − d < d <= 2^32, so 2^32 · (2^l − d) < 2^64.
  const uint64_t magic = ((((uint64_t{1} << l) - d) << 32) / d) + 1;
  return {static_cast<uint32_t>(magic), l};
}

}  // namespace vkdrop::ops

// ops/fast_divide.hpp: the divisors' magic numbers, and the formula shaders/fast_divide.glsl evaluates, exact
// for every 32-bit numerator. The shaders that divide this way (im2col, col2im, block_transpose) are checked
// on the device by test_conv2d.
#include <vkdrop/ops/fast_divide.hpp>
#include <vkdrop/runtime/error.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

using namespace vkdrop;

TEST_CASE("fast division is exact for every numerator, at the edges and at random") {
  constexpr uint32_t max = std::numeric_limits<uint32_t>::max();
  std::vector<uint32_t> divisors = {1, 2, 3, 5, 7, 9, 14, 28, 196, 784, 3136, 100352, 641, 6700417,
                                    (1u << 31) - 1, 1u << 31, (1u << 31) + 1, max - 1, max};
  for (uint32_t k = 0; k < 32; ++k) divisors.push_back(1u << k);
  std::mt19937 engine(5);
  const auto rng = [&] { return static_cast<uint32_t>(engine()); };
  for (int i = 0; i < 200; ++i) divisors.push_back(rng() % 1000 + 1);
  for (int i = 0; i < 200; ++i) divisors.push_back(rng() | 1u);
  for (uint32_t d : divisors) {
    const ops::FastDivisor f = ops::fast_divisor(d);
    std::vector<uint32_t> numerators = {0, 1, d - 1, d, d + 1, max - 1, max, max - max % d, max - max % d - 1};
    for (uint32_t m : {2u, 3u, 1000u}) numerators.push_back(d * m - 1);  // may wrap: any value is fine
    for (int i = 0; i < 2000; ++i) numerators.push_back(rng());
    for (int i = 0; i < 200; ++i) numerators.push_back(static_cast<uint32_t>(rng() % (uint64_t{d} * 4 + 1)));
    int wrong = 0;
    for (uint32_t n : numerators) {
      if (ops::fast_divide(n, f) != n / d && ++wrong <= 3)
        FAIL_CHECK(n << " / " << d << ": got " << ops::fast_divide(n, f));
    }
    CHECK(wrong == 0);
  }
}

TEST_CASE("a divisor of zero is refused") { CHECK_THROWS_AS(ops::fast_divisor(0), ArgumentError); }

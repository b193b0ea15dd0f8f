#pragma once
// What GPU tests share: one Context per test executable (with validation on, see main.cpp), seeded
// inputs, and the tinygrad-style comparison of a GPU result against its CPU reference.

#include <vkdrop/runtime/context.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace vkdrop::test {

// The Context every test in this executable uses: creating one per test case would spend most of the
// suite's time building pipelines again.
inline Context& context() {
  static Context ctx;
  return ctx;
}

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Compares `got` against `want` element-wise with |got - want| <= atol + rtol*|want|. On failure the
// message names what was compared (op, pass, tensor, shape) and the first mismatches.
inline void expect_close(std::span<const float> got, std::span<const float> want, double atol, double rtol,
                         const std::string& what) {
  INFO(what);
  REQUIRE(got.size() == want.size());
  size_t bad = 0;
  std::string first;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    const double err = std::abs(g - w);
    const bool ok = std::isfinite(g) == std::isfinite(w) && (err <= atol + rtol * std::abs(w) || g == w);
    if (!ok) {
      if (bad < 5) first += fmt::format("\n  [{}] got {:.8g}, want {:.8g} (|diff| {:.3g})", i, g, w, err);
      ++bad;
    }
    if (std::isfinite(err)) worst = std::max(worst, err);
  }
  if (bad > 0) {
    FAIL(fmt::format("{}: {} of {} elements differ beyond atol={} rtol={} (max |diff| {:.3g}); first:{}", what, bad,
                     got.size(), atol, rtol, worst, first));
  }
}

// Bit-for-bit equality, so +0 and -0 are told apart: for kernels that compute exactly what their references
// compute (dropout's mask and scale, ReLU). Any NaN equals any NaN: IEEE 754 lets arithmetic on a NaN return
// any quiet NaN, and GPUs return a canonical one (NVIDIA's 0x7fffffff for x * 1.0f, where x86 keeps x's
// payload), so the payload is the device's, not the kernel's.
inline void expect_bits(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  INFO(what);
  REQUIRE(got.size() == want.size());
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const bool same = std::memcmp(&got[i], &want[i], sizeof(float)) == 0 || (std::isnan(got[i]) && std::isnan(want[i]));
    if (!same && bad++ == 0) first = i;
  }
  if (bad > 0) {
    FAIL(fmt::format("{}: {} of {} elements differ; first [{}] got {}, want {}", what, bad, got.size(), first,
                     got[first], want[first]));
  }
}

}  // namespace vkdrop::test

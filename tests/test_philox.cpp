// Philox4x32 against the published known-answer vectors, and the dropout mask contract
// (reference/dropout_mask.hpp) statistically over 10^6 draws.

#include <vkdrop/reference/dropout_mask.hpp>
#include <vkdrop/reference/philox.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

using namespace vkdrop::ref;

namespace {

// tests/data in the repository: from the build (VKDROP_TEST_DATA_DIR), else found from this file.
std::filesystem::path test_data_dir() {
#ifdef VKDROP_TEST_DATA_DIR
  return VKDROP_TEST_DATA_DIR;
#else
  return std::filesystem::path(__FILE__).parent_path() / "data";
#endif
}

struct PhiloxVector {
  int rounds;
  std::array<uint32_t, 4> counter;
  std::array<uint32_t, 2> key;
  std::array<uint32_t, 4> expected;
  int line;
};

// Lines: rounds ctr0..3 key0..1 out0..3 in hex; '#' starts a comment line.
std::vector<PhiloxVector> read_kat(const std::filesystem::path& path) {
  std::ifstream file(path);
  if (!file) FAIL("cannot open the Philox known-answer file " << path << " (it ships in tests/data)");
  std::vector<PhiloxVector> vectors;
  std::string text;
  int line = 0;
  while (std::getline(file, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos || text[text.find_first_not_of(" \t")] == '#') continue;
    std::istringstream fields(text);
    PhiloxVector v{};
    v.line = line;
    fields >> std::dec >> v.rounds >> std::hex;
    for (auto& word : v.counter) fields >> word;
    for (auto& word : v.key) fields >> word;
    for (auto& word : v.expected) fields >> word;
    if (fields.fail()) FAIL(path << ":" << line << ": cannot parse '" << text << "'");
    vectors.push_back(v);
  }
  return vectors;
}

// Fraction of elements kept out of n, for one (seed, step, layer) and threshold.
double keep_rate(uint64_t seed, uint64_t step, uint32_t layer, uint32_t threshold, int n) {
  int kept = 0;
  for (int i = 0; i < n; ++i) kept += dropout_keep(seed, step, layer, uint64_t(i), threshold) ? 1 : 0;
  return double(kept) / n;
}

// Fraction of elements on which two masks agree.
double agreement(uint64_t seed_a, uint64_t step_a, uint32_t layer_a, uint64_t seed_b, uint64_t step_b,
                 uint32_t layer_b, uint32_t threshold, int n) {
  int same = 0;
  for (int i = 0; i < n; ++i) {
    same += dropout_keep(seed_a, step_a, layer_a, uint64_t(i), threshold) ==
                    dropout_keep(seed_b, step_b, layer_b, uint64_t(i), threshold)
                ? 1
                : 0;
  }
  return double(same) / n;
}

constexpr int k_draws = 1'000'000;
constexpr uint64_t k_seed = 0x0123456789ABCDEFull;

}  // namespace

TEST_CASE("philox4x32 matches every Random123 known-answer vector") {
  const std::filesystem::path path = test_data_dir() / "philox4x32_10_kat.txt";
  const std::vector<PhiloxVector> vectors = read_kat(path);
  int ten = 0, seven = 0;
  for (const PhiloxVector& v : vectors) {
    INFO(path << ":" << v.line << " (" << v.rounds << " rounds)");
    CHECK(philox4x32(v.counter, v.key, v.rounds) == v.expected);
    ten += v.rounds == 10 ? 1 : 0;
    seven += v.rounds == 7 ? 1 : 0;
  }
  REQUIRE(ten >= 3);
  REQUIRE(seven >= 3);
}

TEST_CASE("philox4x32 is usable at compile time") {
  constexpr auto words = philox4x32({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff});
  STATIC_REQUIRE(words == std::array<uint32_t, 4>{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
}

TEST_CASE("keep_threshold is round((1 - p) * 2^24) and rejects invalid p") {
  CHECK(keep_threshold(0.0) == 1u << 24);
  CHECK(keep_threshold(1.0) == 0u);
  CHECK(keep_threshold(0.5) == 1u << 23);
  CHECK(keep_threshold(0.25) == 3u << 22);
  CHECK(keep_threshold(0.1) == 15099494u);  // 0.9 * 2^24 = 15099494.4
  CHECK_THROWS_AS(keep_threshold(-0.1), vkdrop::ArgumentError);
  CHECK_THROWS_AS(keep_threshold(1.1), vkdrop::ArgumentError);
  CHECK_THROWS_AS(keep_threshold(std::numeric_limits<double>::quiet_NaN()), vkdrop::ArgumentError);
  CHECK_THROWS_AS(keep_threshold(std::numeric_limits<double>::infinity()), vkdrop::ArgumentError);
}

TEST_CASE("dropout_keep follows the mask contract word for word") {
  // Written out independently of dropout_words, so a change to the contract fails here: the GPU
  // shaders rely on this exact mapping.
  const uint64_t step = 0x0000000500000007ull;  // both halves of the step matter
  const uint32_t layer = 3;
  for (uint64_t element : {0ull, 1ull, 2ull, 3ull, 4ull, 1001ull, 0xFFFFFFFFull, 0x3FFFFFFFFull}) {
    const std::array<uint32_t, 4> words =
        philox4x32({uint32_t(element / 4), layer, 7u, 5u}, {0x89ABCDEFu, 0x01234567u});
    const uint32_t word = words[element % 4];
    INFO("element " << element << " word " << word);
    for (uint32_t threshold : {0u, 1u, word >> 8, (word >> 8) + 1, 1u << 23, 1u << 24}) {
      CHECK(dropout_keep(k_seed, step, layer, element, threshold) == ((word >> 8) < threshold));
    }
    CHECK(dropout_words(k_seed, step, layer, uint32_t(element / 4)) == words);
  }
  CHECK_THROWS_AS(dropout_keep(k_seed, step, layer, 1ull << 34, 1u << 23), vkdrop::ArgumentError);
}

TEST_CASE("dropout keep rate is 1 - p within 4 sigma over 10^6 elements") {
  for (double p : {0.1, 0.5, 0.9}) {
    const double rate = keep_rate(k_seed, 1, 0, keep_threshold(p), k_draws);
    const double sigma = std::sqrt(p * (1 - p) / k_draws);
    INFO("p = " << p << ": kept " << rate << ", expected " << 1 - p << " +- " << 4 * sigma);
    CHECK(std::abs(rate - (1 - p)) < 4 * sigma);
  }
}

TEST_CASE("p = 0 keeps every element and p = 1 none") {
  const int n = 100'000;
  CHECK(keep_rate(k_seed, 2, 1, keep_threshold(0.0), n) == 1.0);
  CHECK(keep_rate(k_seed, 2, 1, keep_threshold(1.0), n) == 0.0);
}

TEST_CASE("masks repeat for the same (seed, step, layer) and differ across steps, layers and seeds") {
  const double p = 0.5;
  const uint32_t threshold = keep_threshold(p);
  const int n = 200'000;
  const double expected = p * p + (1 - p) * (1 - p);  // two independent masks agree this often
  const double tolerance = 4 * std::sqrt(expected * (1 - expected) / n);

  CHECK(agreement(k_seed, 9, 4, k_seed, 9, 4, threshold, n) == 1.0);
  SECTION("steps") { CHECK(std::abs(agreement(k_seed, 9, 4, k_seed, 10, 4, threshold, n) - expected) < tolerance); }
  SECTION("high word of the step") {
    CHECK(std::abs(agreement(k_seed, 9, 4, k_seed, 9 + (1ull << 32), 4, threshold, n) - expected) < tolerance);
  }
  SECTION("layers") { CHECK(std::abs(agreement(k_seed, 9, 4, k_seed, 9, 5, threshold, n) - expected) < tolerance); }
  SECTION("high word of the seed") {
    CHECK(std::abs(agreement(k_seed, 9, 4, k_seed ^ (1ull << 40), 9, 4, threshold, n) - expected) < tolerance);
  }
}

TEST_CASE("masks at p = 0.1 differ across steps at the rate of independent masks") {
  const double p = 0.1;
  const double expected = p * p + (1 - p) * (1 - p);  // 0.82
  const double tolerance = 4 * std::sqrt(expected * (1 - expected) / k_draws);
  CHECK(std::abs(agreement(k_seed, 1, 0, k_seed, 2, 0, keep_threshold(p), k_draws) - expected) < tolerance);
}

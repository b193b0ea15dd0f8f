// Checkpoint files: the safetensors format, atomic writes, and clear errors for damaged files.
#include "temp_dir.hpp"

#include <vkdrop/runtime/error.hpp>
#include <vkdrop/train/safetensors.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>

using namespace vkdrop;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
  return test::temp_dir("vkdrop-test-safetensors");
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_all(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A file with the given JSON header and `data_bytes` zero bytes of data.
std::string handmade(const std::string& json, size_t data_bytes) {
  uint64_t n = json.size();
  std::string bytes(reinterpret_cast<const char*>(&n), 8);
  return bytes + json + std::string(data_bytes, '\0');
}

}  // namespace

TEST_CASE("safetensors round-trips names, shapes, values and metadata") {
  const fs::path path = temp_dir() / "roundtrip.safetensors";
  SafetensorsFile file;
  file.metadata = {{"step", "42"}, {"format", "vkdrop"}};
  file.tensors.push_back({"0.weight", {2, 3}, {1, 2, 3, 4, 5, -6.5f}});
  file.tensors.push_back({"0.bias", {2}, {0.25f, -0.0f}});
  file.tensors.push_back({"empty", {0, 4}, {}});
  write_safetensors(path, file);

  // The layout PyTorch's loader expects: 8-byte little-endian length, JSON, then data at 8-byte alignment.
  const std::string bytes = read_all(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);
  CHECK(bytes.size() == 8 + n + (6 + 2) * 4);
  CHECK(bytes.substr(8, n).find("\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}") !=
        std::string::npos);

  const SafetensorsFile back = read_safetensors(path);
  REQUIRE(back.tensors.size() == 3);
  const NamedTensor* w = back.find("0.weight");
  REQUIRE(w != nullptr);
  CHECK(w->shape == Shape{2, 3});
  CHECK(w->values == file.tensors[0].values);
  CHECK(back.find("0.bias")->values == file.tensors[1].values);
  CHECK(back.metadata.at("step") == "42");
  CHECK(back.find("nope") == nullptr);

  // No temporary file is left beside it.
  int files = 0;
  for (const auto& e : fs::directory_iterator(temp_dir()))
    if (e.path().filename().string().rfind("roundtrip.safetensors", 0) == 0) ++files;
  CHECK(files == 1);
}

TEST_CASE("a rewrite replaces the file whole") {
  const fs::path path = temp_dir() / "replace.safetensors";
  SafetensorsFile a;
  a.tensors.push_back({"x", {1000}, std::vector<float>(1000, 1.0f)});
  write_safetensors(path, a);
  SafetensorsFile b;
  b.tensors.push_back({"x", {3}, {7, 8, 9}});
  write_safetensors(path, b);
  CHECK(read_safetensors(path).find("x")->values == std::vector<float>{7, 8, 9});
}

TEST_CASE("a write into a directory that does not exist is a DataError and leaves nothing") {
  SafetensorsFile a;
  a.tensors.push_back({"x", {1}, {1}});
  CHECK_THROWS_AS(write_safetensors(temp_dir() / "no" / "such" / "dir.safetensors", a), DataError);
  SafetensorsFile wrong;
  wrong.tensors.push_back({"x", {2}, {1}});
  CHECK_THROWS_AS(write_safetensors(temp_dir() / "wrong.safetensors", wrong), ArgumentError);
}

TEST_CASE("damaged checkpoints are refused with the file named") {
  const fs::path path = temp_dir() / "bad.safetensors";
  const std::string name = path.string();
  SECTION("missing") {
    CHECK_THROWS_WITH(read_safetensors(temp_dir() / "missing.safetensors"),
                      Catch::Matchers::Contains("missing.safetensors") && Catch::Matchers::Contains("cannot open"));
  }
  SECTION("shorter than the header length") {
    write_all(path, "abc");
    CHECK_THROWS_AS(read_safetensors(path), DataError);
  }
  SECTION("header length beyond the file") {
    write_all(path, handmade("{}", 0).substr(0, 9));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Matchers::Contains(name) && Catch::Matchers::Contains("truncated"));
  }
  SECTION("not JSON") {
    write_all(path, handmade("{not json", 0));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Matchers::Contains("not valid JSON"));
  }
  SECTION("another dtype") {
    write_all(path, handmade(R"({"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", 4));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Matchers::Contains("F16"));
  }
  SECTION("offsets that do not match the shape") {
    write_all(path, handmade(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Matchers::Contains("needs 12 bytes"));
  }
  SECTION("data cut short") {
    write_all(path, handmade(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})", 8));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Matchers::Contains("truncated"));
  }
  SECTION("a malformed entry") {
    write_all(path, handmade(R"({"w":{"dtype":"F32"}})", 0));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Matchers::Contains("malformed"));
  }
  SECTION("metadata that is not an object") {
    write_all(path, handmade(R"({"__metadata__":"x"})", 0));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Matchers::Contains("__metadata__ is not a JSON object"));
  }
  SECTION("a shape whose size overflows") {
    write_all(path, handmade(R"({"w":{"dtype":"F32","shape":[4611686018427387904, 4],"data_offsets":[0,0]}})", 0));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Matchers::Contains("impossible shape"));
  }
  SECTION("a directory") {
    CHECK_THROWS_WITH(read_safetensors(temp_dir()), Catch::Matchers::Contains("not a regular file"));
  }
}

TEST_CASE("shapes and offsets must be JSON unsigned integers, never floats or negative numbers") {
  const fs::path path = temp_dir() / "numbers.safetensors";
  const auto refused = [&](const std::string& shape, const std::string& offsets, const std::string& expected) {
    INFO("shape " << shape << ", data_offsets " << offsets);
    write_all(path, handmade(R"({"w":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":)" + offsets + "}}", 4));
    CHECK_THROWS_AS(read_safetensors(path), DataError);
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Matchers::Contains(path.string() + ": tensor w has " + expected));
  };
  refused("[1e30]", "[0,4]", "shape [1e+30]: 1e+30 is not a whole number >= 0");
  refused("[1.9]", "[0,4]", "shape [1.9]: 1.9 is not a whole number >= 0");
  refused("[1.0]", "[0,4]", "shape [1.0]: 1.0 is not a whole number >= 0");
  refused("[-1]", "[0,4]", "shape [-1]: -1 is not a whole number >= 0");
  refused("[1]", "[-5.0,4]", "data_offsets [-5.0,4]: -5.0 is not a whole number >= 0");
  refused("[1]", "[0,4e0]", "data_offsets [0,4.0]: 4.0 is not a whole number >= 0");
  refused("[1]", "[0,99999999999999999999]", "data_offsets [0,1e+20]: 1e+20 is not a whole number >= 0");
  refused("[1]", "[0]", "data_offsets [0], not [begin, end]");
  refused("1", "[0,4]", "shape 1, not a list");
  refused("[9223372036854775808,0]", "[0,0]", "an impossible shape [9223372036854775808,0]");
  write_all(path, handmade(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4));
  CHECK(read_safetensors(path).tensors.at(0).shape == Shape{1});
}

TEST_CASE("tensors must tile the data: no overlap, no gap, nothing after the last") {
  const fs::path path = temp_dir() / "tiling.safetensors";
  const auto refused = [&](const std::string& json, size_t data_bytes, const std::string& expected) {
    INFO(json);
    write_all(path, handmade(json, data_bytes));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Matchers::Contains(path.string()) &&
                                                  Catch::Matchers::Contains(expected));
  };
  // Two tensors on the same 8 bytes: a small file could ask for its size in memory once per tensor.
  refused(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
          8, "starts at byte 0 of the data, where the tensors before it end at 8");
  refused(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
          12, "tensor b starts at byte 8 of the data, where the tensors before it end at 4");
  refused(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8, "4 bytes of data after the last tensor");
  // In any order, and empty tensors anywhere.
  write_all(path, handmade(R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"e":{"dtype":"F32","shape":[0],)"
                           R"("data_offsets":[4,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8));
  CHECK(read_safetensors(path).tensors.size() == 3);
}

TEST_CASE("a header longer than safetensors allows is refused before it is read") {
  const fs::path path = temp_dir() / "long-header.safetensors";
  const uint64_t length = 100'000'001;
  write_all(path, std::string(reinterpret_cast<const char*>(&length), 8));
  fs::resize_file(path, 8 + length + 8);  // sparse: no disk, and nothing to read before the refusal
  CHECK_THROWS_WITH(read_safetensors(path), Catch::Matchers::Contains("header length 100000001 is more than the "
                                                                      "100000000 bytes safetensors allows"));
  fs::remove(path);
}

TEST_CASE("check_can_write finds out before training what a save would find after it") {
  const fs::path dir = temp_dir() / "writable";
  fs::remove_all(dir);
  fs::create_directories(dir);
  CHECK_NOTHROW(check_can_write(dir / "model.safetensors"));
  CHECK(fs::is_empty(dir));  // its probe is gone
  CHECK_THROWS_WITH(check_can_write(dir / "no-such-dir" / "model.safetensors"),
                    Catch::Matchers::Contains("no-such-dir/model.safetensors: cannot create (check that the directory ") &&
                        Catch::Matchers::Contains("no-such-dir exists and is writable)"));
  write_all(dir / "file", "x");
  CHECK_THROWS_AS(check_can_write(dir / "file" / "model.safetensors"), DataError);
  CHECK_THROWS_WITH(check_can_write(dir), Catch::Matchers::Contains("is a directory; name a file"));
  fs::remove_all(dir);
}

TEST_CASE("I64 tensors (PyTorch's num_batches_tracked) are read as exact floats, up to 2^24") {
  const fs::path path = temp_dir() / "int64.safetensors";
  const auto file_with = [&](int64_t count, const std::string& shape) {
    const std::string json = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("n":{"dtype":"I64","shape":)" + shape + R"(,"data_offsets":[4,12]}})";
    const float a = 0.5f;
    write_all(path, handmade(json, 0) + std::string(reinterpret_cast<const char*>(&a), 4) +
                        std::string(reinterpret_cast<const char*>(&count), 8));
  };
  file_with(937, "[]");
  const SafetensorsFile file = read_safetensors(path);
  REQUIRE(file.tensors.size() == 2);
  CHECK(file.tensors[0].values == std::vector<float>{0.5f});
  CHECK(file.tensors[1].name == "n");
  CHECK(file.tensors[1].shape == Shape{});
  CHECK(file.tensors[1].values == std::vector<float>{937.0f});
  file_with(int64_t{1} << 24, "[1]");
  CHECK(read_safetensors(path).tensors[1].values == std::vector<float>{16777216.0f});
  // 2^24 + 1 has no float: refused rather than rounded.
  file_with((int64_t{1} << 24) + 1, "[]");
  CHECK_THROWS_WITH(read_safetensors(path),
                    Catch::Matchers::Contains("tensor n holds the integer 16777217, beyond the 2^24"));
  // Other dtypes stay refused, and an I64 tensor must have 8 bytes per element.
  write_all(path, handmade(R"({"n":{"dtype":"I32","shape":[],"data_offsets":[0,4]}})", 4));
  CHECK_THROWS_WITH(read_safetensors(path), Catch::Matchers::Contains("has dtype I32"));
  write_all(path, handmade(R"({"n":{"dtype":"I64","shape":[],"data_offsets":[0,4]}})", 4));
  CHECK_THROWS_WITH(read_safetensors(path), Catch::Matchers::Contains("needs 8 bytes"));
}

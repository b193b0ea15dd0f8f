// The device, its selection, the arena and host<->device copies.
#include "gpu.hpp"
#include "temp_dir.hpp"

#include <vkdrop/runtime/arena.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include <unistd.h>

using namespace vkdrop;


TEST_CASE("devices are listed with the limits compute needs") {
  auto devices = Context::list_devices();
  REQUIRE(!devices.empty());
  for (const DeviceInfo& d : devices) {
    CHECK(!d.name.empty());
    CHECK(d.max_workgroup_invocations >= 128);  // Vulkan's required minimum
    CHECK(d.max_storage_buffer_range >= (1u << 27) - 1);
    CHECK(d.min_storage_buffer_offset_alignment >= 1);
    CHECK(d.min_texel_buffer_offset_alignment >= 1);
    CHECK(d.max_texel_buffer_elements >= 65536);  // Vulkan's required minimum
    CHECK(d.subgroup_size >= 1);
  }
}

TEST_CASE("validation is on in the tests") { CHECK(test::context().validation_enabled()); }

TEST_CASE("a device is chosen by index and by name substring") {
  auto devices = Context::list_devices();
  const DeviceInfo& first = devices.front();
  SECTION("by index") {
    Context ctx(ContextOptions{.device = std::to_string(first.index)});
    CHECK(ctx.info().index == first.index);
    CHECK(ctx.info().name == first.name);
  }
  SECTION("by a name substring, in any case") {
    std::string part = first.name.substr(0, std::min<size_t>(4, first.name.size()));
    for (char& c : part) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    Context ctx(ContextOptions{.device = part});
    CHECK(ctx.info().name.find(first.name.substr(0, 4)) == 0);
  }
  SECTION("by an index with leading zeros") {
    Context ctx(ContextOptions{.device = "00" + std::to_string(first.index)});
    CHECK(ctx.info().index == first.index);
  }
  SECTION("through VKDROP_DEVICE") {
    setenv("VKDROP_DEVICE", std::to_string(first.index).c_str(), 1);
    Context ctx;
    unsetenv("VKDROP_DEVICE");
    CHECK(ctx.info().index == first.index);
  }
}

TEST_CASE("a device that does not exist is a clear error") {
  SECTION("bad index") {
    REQUIRE_THROWS_AS(Context(ContextOptions{.device = "97"}), DeviceError);
    REQUIRE_THROWS_WITH(Context(ContextOptions{.device = "97"}), Catch::Matchers::Contains("No Vulkan device with index 97") &&
                               Catch::Matchers::Contains("Devices:"));
    REQUIRE_THROWS_AS(Context(ContextOptions{.device = "99999999999999999999999"}), DeviceError);  // no overflow
  }
  SECTION("bad name") {
    REQUIRE_THROWS_AS(Context(ContextOptions{.device = "no-such-gpu"}), DeviceError);
    REQUIRE_THROWS_WITH(Context(ContextOptions{.device = "no-such-gpu"}), Catch::Matchers::Contains("no-such-gpu"));
  }
}

TEST_CASE("buffers round-trip through the device") {
  Context& ctx = test::context();
  Arena arena(ctx, 8 << 20);
  for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{4096}, int64_t{1000000}}) {
    INFO("n = " << n);
    Tensor t = make_tensor(arena, {n}, DType::f32, "roundtrip");
    auto values = test::random_floats(static_cast<size_t>(n), static_cast<uint32_t>(n));
    upload(ctx, t, std::span<const float>(values));
    CHECK(download_f32(ctx, t) == values);
  }
  SECTION("size 0 is an empty slice and a no-op") {
    Tensor t = make_tensor(arena, {0, 5}, DType::f32, "empty");
    CHECK(t.slice.empty());
    std::vector<float> none;
    upload(ctx, t, std::span<const float>(none));
    CHECK(download_f32(ctx, t).empty());
  }
  SECTION("uint8 and int32 tensors") {
    Tensor bytes = make_tensor(arena, {5}, DType::u8, "bytes");
    CHECK(bytes.slice.size == 8);  // padded to whole words for shaders
    std::vector<uint8_t> b = {1, 2, 3, 250, 255};
    upload(ctx, bytes, std::span<const uint8_t>(b));
    Tensor ints = make_tensor(arena, {3}, DType::i32, "ints");
    std::vector<int32_t> i = {-5, 0, 1 << 30};
    upload(ctx, ints, std::span<const int32_t>(i));
    CHECK(download_i32(ctx, ints) == i);
  }
  SECTION("a wrong count or dtype is refused") {
    Tensor t = make_tensor(arena, {3}, DType::f32, "three");
    std::vector<float> four(4);
    CHECK_THROWS_AS(upload(ctx, t, std::span<const float>(four)), ShapeError);
    std::vector<int32_t> ints(3);
    CHECK_THROWS_AS(upload(ctx, t, std::span<const int32_t>(ints)), ArgumentError);
  }
}

TEST_CASE("the arena sub-allocates aligned slices from a few blocks") {
  Context& ctx = test::context();
  const uint64_t align = ctx.info().binding_offset_alignment();
  Arena arena(ctx, 1 << 20);
  std::vector<BufferSlice> slices;
  for (uint64_t bytes : {4u, 12u, 1000u, 3u, 4096u, 100000u, 7u}) slices.push_back(arena.allocate(bytes, "t"));
  for (size_t i = 0; i < slices.size(); ++i) {
    CHECK(slices[i].offset % align == 0);
    for (size_t j = i + 1; j < slices.size(); ++j) CHECK_FALSE(slices[i].overlaps(slices[j]));
  }
  CHECK(arena.block_count() == 1);
  CHECK(arena.bytes_used() == 4 + 12 + 1000 + 3 + 4096 + 100000 + 7);

  SECTION("a 256-byte alignment request is honoured") {
    BufferSlice s = arena.allocate(10, "aligned", 256);
    CHECK(s.offset % 256 == 0);
  }
  SECTION("a slice larger than a block gets a block of its own") {
    BufferSlice big = arena.allocate(3 << 20, "big");
    CHECK(big.offset == 0);
    CHECK(arena.block_count() == 2);
    CHECK(arena.bytes_reserved() >= (1u << 20) + (3u << 20));
  }
  SECTION("one slice beyond maxStorageBufferRange is refused, naming the tensor") {
    const uint64_t too_big = ctx.info().max_storage_buffer_range + 4;
    REQUIRE_THROWS_AS(arena.allocate(too_big, "huge activations"), ArgumentError);
    REQUIRE_THROWS_WITH(arena.allocate(too_big, "huge activations"), Catch::Matchers::Contains("huge activations") &&
                               Catch::Matchers::Contains("maxStorageBufferRange"));
  }
}

TEST_CASE("the pipeline cache is written to disk and reused by the next context") {
  auto dir = test::temp_name("vkdrop-test-pipeline-cache");
  std::filesystem::remove_all(dir);
  std::filesystem::path path;
  {
    Context first(ContextOptions{.cache_dir = dir});
    first.kernel("axpy", std::vector<uint32_t>{64});
    path = first.pipeline_cache_path();
  }  // the destructor saves the cache
  REQUIRE(std::filesystem::exists(path));
  // The file is the driver's own cache blob: a Vulkan pipeline-cache header naming this device.
  std::ifstream in(path, std::ios::binary);
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(bytes.size() >= 32);
  CHECK(bytes[0] == 32);  // header length
  CHECK(bytes[4] == VK_PIPELINE_CACHE_HEADER_VERSION_ONE);
  Context& ctx = test::context();
  CHECK(std::equal(ctx.info().pipeline_cache_uuid.begin(), ctx.info().pipeline_cache_uuid.end(), bytes.begin() + 16));
  {
    // The second context starts from that file (same device and driver: same name) and saves it again.
    Context second(ContextOptions{.cache_dir = dir});
    CHECK(second.pipeline_cache_path() == path);
    second.kernel("axpy", std::vector<uint32_t>{64});
  }
  CHECK(std::filesystem::file_size(path) >= bytes.size());
  std::filesystem::remove_all(dir);
}

TEST_CASE("an unwritable pipeline cache directory is a warning, not a failure") {
  auto file = test::temp_name("vkdrop-test-not-a-dir");
  { std::ofstream(file) << "x"; }
  // A cache "directory" below a regular file can never be created.
  CHECK_NOTHROW([&] {
    Context ctx(ContextOptions{.cache_dir = file / "sub"});
    ctx.kernel("copy", std::vector<uint32_t>{64});
  }());
  std::filesystem::remove(file);
}

TEST_CASE("a pipeline cache file that cannot be read is a warning, and the context compiles its pipelines") {
  auto dir = test::temp_name("vkdrop-test-unreadable-cache");
  std::filesystem::remove_all(dir);
  std::filesystem::path path;
  {
    Context first(ContextOptions{.cache_dir = dir});
    path = first.pipeline_cache_path();
  }
  // A directory where the cache file should be: reading it fails (EISDIR), and so will saving over it.
  std::filesystem::remove(path);
  std::filesystem::create_directories(path);
  std::ostringstream warnings;
  std::streambuf* const cerr = std::cerr.rdbuf(warnings.rdbuf());
  try {
    Context ctx(ContextOptions{.cache_dir = dir});
    ctx.kernel("copy", std::vector<uint32_t>{64});
  } catch (...) {
    std::cerr.rdbuf(cerr);
    throw;
  }
  std::cerr.rdbuf(cerr);
  CHECK_THAT(warnings.str(), Catch::Matchers::Contains("warning: ignoring the pipeline cache " + path.string() +
                                                       " (not a regular file)"));
  // Saving over a directory fails too: a warning, and no temporary file left beside it.
  CHECK_THAT(warnings.str(), Catch::Matchers::Contains("warning: could not save the pipeline cache"));
  CHECK(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()) == 1);
  std::filesystem::remove_all(dir);
}

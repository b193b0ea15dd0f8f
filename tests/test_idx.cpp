// IDX reading and MNIST loading: every way a data file can be wrong must end in a DataError that names
// the file and the fault, because a wrong data file that loads quietly trains a model on garbage.

#include <catch2/catch.hpp>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <vkdrop/datasets/idx.hpp>
#include <vkdrop/datasets/mnist.hpp>
#include <vkdrop/runtime/error.hpp>

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::random_device seed;
    path_ = fs::temp_directory_path() / ("vkdrop_test_idx_" + std::to_string(seed()) + std::to_string(seed()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// An IDX file's bytes: header with big-endian dims, then the payload as given (already big-endian).
std::vector<uint8_t> idx_bytes(uint8_t type_code, const std::vector<uint32_t>& dims,
                               const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> out = {0, 0, type_code, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    out.push_back(static_cast<uint8_t>(d >> 24));
    out.push_back(static_cast<uint8_t>(d >> 16));
    out.push_back(static_cast<uint8_t>(d >> 8));
    out.push_back(static_cast<uint8_t>(d));
  }
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

void write_raw(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream file(path, std::ios::binary);
  file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(file.good());
}

void write_gz(const fs::path& path, const std::vector<uint8_t>& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  const int written = gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  REQUIRE(gzclose(file) == Z_OK);
  REQUIRE(written == static_cast<int>(bytes.size()));
}

std::vector<uint8_t> read_raw(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// Runs f, which must throw DataError, and returns the message for the caller to check. Any other
// exception escapes and fails the test with its own message.
template <class F>
std::string data_error_message(F&& f) {
  try {
    f();
  } catch (const vkdrop::DataError& e) {
    return e.what();
  }
  FAIL("expected vkdrop::DataError, nothing was thrown");
  return {};
}

// 0, 1, 2, ... wrapping at 256: distinct enough that a misplaced byte shows.
std::vector<uint8_t> ramp(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + 3);
  return v;
}

// Sets an environment variable for one scope and restores the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    set(value);
  }
  ~ScopedEnv() { set(old_ ? old_->c_str() : nullptr); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  void set(const char* value) {
    if (value != nullptr) {
      setenv(name_.c_str(), value, 1);
    } else {
      unsetenv(name_.c_str());
    }
  }
  std::string name_;
  std::optional<std::string> old_;
};

// A small MNIST-shaped pair of files: count images of rows x cols, labels i % 10.
void write_mnist_pair(const fs::path& dir, const std::string& images_name, const std::string& labels_name,
                      uint32_t count, uint32_t rows = 28, uint32_t cols = 28, uint32_t label_count = 0) {
  if (label_count == 0) label_count = count;
  write_raw(dir / images_name, idx_bytes(vkdrop::k_idx_u8, {count, rows, cols}, ramp(size_t{count} * rows * cols)));
  std::vector<uint8_t> labels(label_count);
  for (uint32_t i = 0; i < label_count; ++i) labels[i] = static_cast<uint8_t>(i % 10);
  write_raw(dir / labels_name, idx_bytes(vkdrop::k_idx_u8, {label_count}, labels));
}

void write_small_mnist(const fs::path& dir) {
  write_mnist_pair(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", 12);
  write_mnist_pair(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 5);
}

}  // namespace

TEST_CASE("read_idx reads a raw uint8 file: dims and values", "[idx]") {
  TempDir tmp;
  const std::vector<uint8_t> payload = ramp(2 * 3 * 4);
  write_raw(tmp / "a.idx", idx_bytes(vkdrop::k_idx_u8, {2, 3, 4}, payload));

  const vkdrop::IdxArray a = vkdrop::read_idx(tmp / "a.idx");
  CHECK(a.type_code == vkdrop::k_idx_u8);
  CHECK(a.dims == std::vector<uint32_t>{2, 3, 4});
  CHECK(a.count() == 24);
  CHECK(a.bytes == payload);
}

TEST_CASE("read_idx reads a gzip file the same as the raw one", "[idx]") {
  TempDir tmp;
  // Large enough to span several of the reader's chunks and zlib's buffers.
  const std::vector<uint8_t> payload = ramp(300 * 100 * 200);
  const std::vector<uint8_t> file = idx_bytes(vkdrop::k_idx_u8, {300, 100, 200}, payload);
  write_raw(tmp / "a.idx", file);
  write_gz(tmp / "a.idx.gz", file);
  REQUIRE(read_raw(tmp / "a.idx.gz").size() < file.size());  // really compressed

  const vkdrop::IdxArray raw = vkdrop::read_idx(tmp / "a.idx");
  const vkdrop::IdxArray gz = vkdrop::read_idx(tmp / "a.idx.gz");
  CHECK(gz.dims == std::vector<uint32_t>{300, 100, 200});
  CHECK(gz.dims == raw.dims);
  CHECK(gz.bytes == payload);
  CHECK(raw.bytes == payload);
}

TEST_CASE("read_idx converts multi-byte elements from big-endian to host order", "[idx]") {
  TempDir tmp;

  SECTION("int16") {
    write_raw(tmp / "a", idx_bytes(vkdrop::k_idx_i16, {2}, {0x01, 0x02, 0xFF, 0xFE}));
    const vkdrop::IdxArray a = vkdrop::read_idx(tmp / "a");
    std::array<int16_t, 2> v{};
    REQUIRE(a.bytes.size() == sizeof v);
    std::memcpy(v.data(), a.bytes.data(), sizeof v);
    CHECK(v[0] == 0x0102);
    CHECK(v[1] == -2);
  }
  SECTION("int32") {
    write_raw(tmp / "a", idx_bytes(vkdrop::k_idx_i32, {1, 2}, {0x01, 0x02, 0x03, 0x04, 0xFF, 0xFF, 0xFF, 0xF9}));
    const vkdrop::IdxArray a = vkdrop::read_idx(tmp / "a");
    CHECK(a.dims == std::vector<uint32_t>{1, 2});
    std::array<int32_t, 2> v{};
    REQUIRE(a.bytes.size() == sizeof v);
    std::memcpy(v.data(), a.bytes.data(), sizeof v);
    CHECK(v[0] == 0x01020304);
    CHECK(v[1] == -7);
  }
  SECTION("float32") {
    // 1.5f = 0x3FC00000, -0.25f = 0xBE800000
    write_raw(tmp / "a", idx_bytes(vkdrop::k_idx_f32, {2}, {0x3F, 0xC0, 0x00, 0x00, 0xBE, 0x80, 0x00, 0x00}));
    const vkdrop::IdxArray a = vkdrop::read_idx(tmp / "a");
    std::array<float, 2> v{};
    REQUIRE(a.bytes.size() == sizeof v);
    std::memcpy(v.data(), a.bytes.data(), sizeof v);
    CHECK(v[0] == 1.5f);
    CHECK(v[1] == -0.25f);
  }
  SECTION("float64") {
    // 3.0 = 0x4008000000000000
    write_raw(tmp / "a", idx_bytes(vkdrop::k_idx_f64, {1}, {0x40, 0x08, 0, 0, 0, 0, 0, 0}));
    const vkdrop::IdxArray a = vkdrop::read_idx(tmp / "a");
    double v = 0;
    REQUIRE(a.bytes.size() == sizeof v);
    std::memcpy(&v, a.bytes.data(), sizeof v);
    CHECK(v == 3.0);
  }
  SECTION("int8 stays as it is") {
    write_raw(tmp / "a", idx_bytes(vkdrop::k_idx_i8, {3}, {0x80, 0x00, 0x7F}));
    const vkdrop::IdxArray a = vkdrop::read_idx(tmp / "a");
    CHECK(a.bytes == std::vector<uint8_t>{0x80, 0x00, 0x7F});
  }
}

TEST_CASE("read_idx: a truncated file is a DataError naming the file and the sizes", "[idx]") {
  TempDir tmp;
  std::vector<uint8_t> file = idx_bytes(vkdrop::k_idx_u8, {6, 28, 28}, ramp(6 * 28 * 28));
  file.resize(file.size() - 100);

  SECTION("raw") {
    write_raw(tmp / "train-images-idx3-ubyte", file);
    const std::string message = data_error_message([&] { vkdrop::read_idx(tmp / "train-images-idx3-ubyte"); });
    CHECK_THAT(message, Contains((tmp / "train-images-idx3-ubyte").string()));
    CHECK_THAT(message, Contains("truncated"));
    CHECK_THAT(message, Contains("header says 6x28x28 uint8 = 4704 bytes of data, file has 4604"));
  }
  SECTION("gzip holding a short payload") {
    write_gz(tmp / "a.gz", file);
    const std::string message = data_error_message([&] { vkdrop::read_idx(tmp / "a.gz"); });
    CHECK_THAT(message, Contains((tmp / "a.gz").string()));
    CHECK_THAT(message, Contains("truncated"));
    CHECK_THAT(message, Contains("file has 4604"));
  }
  SECTION("gzip stream cut off (an interrupted download)") {
    write_gz(tmp / "whole.gz", idx_bytes(vkdrop::k_idx_u8, {6, 28, 28}, ramp(6 * 28 * 28)));
    std::vector<uint8_t> gz = read_raw(tmp / "whole.gz");
    gz.resize(gz.size() / 2);
    write_raw(tmp / "cut.gz", gz);
    const std::string message = data_error_message([&] { vkdrop::read_idx(tmp / "cut.gz"); });
    CHECK_THAT(message, Contains((tmp / "cut.gz").string()));
    CHECK_THAT(message, Contains("truncated"));
  }
  SECTION("inside the header") {
    write_raw(tmp / "a", {0, 0, 0x08});
    CHECK_THAT(data_error_message([&] { vkdrop::read_idx(tmp / "a"); }), Contains("truncated"));
    write_raw(tmp / "b", {0, 0, 0x08, 3, 0, 0, 0, 6, 0, 0});
    CHECK_THAT(data_error_message([&] { vkdrop::read_idx(tmp / "b"); }), Contains("truncated"));
  }
  SECTION("empty") {
    write_raw(tmp / "a", {});
    CHECK_THAT(data_error_message([&] { vkdrop::read_idx(tmp / "a"); }), Contains("truncated"));
  }
}

TEST_CASE("read_idx: a corrupt gzip stream is a DataError", "[idx]") {
  TempDir tmp;
  write_gz(tmp / "a.gz", idx_bytes(vkdrop::k_idx_u8, {1000}, ramp(1000)));
  std::vector<uint8_t> gz = read_raw(tmp / "a.gz");
  // Flip bits in the CRC-32 trailer: the data decompresses, then fails its check.
  gz[gz.size() - 6] ^= 0xFF;
  write_raw(tmp / "bad.gz", gz);
  const std::string message = data_error_message([&] { vkdrop::read_idx(tmp / "bad.gz"); });
  CHECK_THAT(message, Contains((tmp / "bad.gz").string()));
}

TEST_CASE("read_idx: wrong magic is a DataError", "[idx]") {
  TempDir tmp;
  // What a saved HTML error page instead of the data would look like.
  write_raw(tmp / "a", {'<', 'h', 't', 'm', 'l', '>'});
  const std::string message = data_error_message([&] { vkdrop::read_idx(tmp / "a"); });
  CHECK_THAT(message, Contains((tmp / "a").string()));
  CHECK_THAT(message, Contains("magic"));

  std::vector<uint8_t> file = idx_bytes(vkdrop::k_idx_u8, {2}, {1, 2});
  file[1] = 0x01;
  write_raw(tmp / "b", file);
  CHECK_THAT(data_error_message([&] { vkdrop::read_idx(tmp / "b"); }), Contains("magic"));
}

TEST_CASE("read_idx: an unknown type code is a DataError", "[idx]") {
  TempDir tmp;
  for (uint8_t code : {uint8_t{0x00}, uint8_t{0x07}, uint8_t{0x0A}, uint8_t{0x0F}}) {
    write_raw(tmp / "a", idx_bytes(code, {2}, {1, 2}));
    const std::string message = data_error_message([&] { vkdrop::read_idx(tmp / "a"); });
    CHECK_THAT(message, Contains((tmp / "a").string()));
    CHECK_THAT(message, Contains("type code"));
  }
}

TEST_CASE("read_idx: a dimension count outside 1..4 is a DataError", "[idx]") {
  TempDir tmp;
  write_raw(tmp / "a", {0, 0, 0x08, 0});
  CHECK_THAT(data_error_message([&] { vkdrop::read_idx(tmp / "a"); }), Contains("0 dimensions"));
  write_raw(tmp / "b", idx_bytes(vkdrop::k_idx_u8, {1, 1, 1, 1, 1}, {7}));
  CHECK_THAT(data_error_message([&] { vkdrop::read_idx(tmp / "b"); }), Contains("5 dimensions"));
  write_raw(tmp / "c", idx_bytes(vkdrop::k_idx_u8, {1, 1, 1, 1}, {7}));
  CHECK(vkdrop::read_idx(tmp / "c").bytes == std::vector<uint8_t>{7});
}

TEST_CASE("read_idx: a header claiming more than the limit is refused before its data is read", "[idx]") {
  TempDir tmp;
  write_raw(tmp / "a", idx_bytes(vkdrop::k_idx_f64, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {1, 2, 3}));
  CHECK_THAT(data_error_message([&] { vkdrop::read_idx(tmp / "a"); }),
             Contains("header says 4294967295x4294967295x4294967295 float64: more than the 1073741824 bytes (1024 MiB)"));

  // A decompression bomb, made small: the header claims 3 GiB, the gzip stream of 8 KB would inflate to 8 MiB
  // of zeros (a real bomb holds the 3 GiB, in 3 MB of gzip). It is refused from its header alone.
  std::vector<uint8_t> bomb = idx_bytes(vkdrop::k_idx_u8, {3, 1024, 1024, 1024}, {});
  bomb.resize(bomb.size() + (size_t{8} << 20), 0);
  write_gz(tmp / "bomb.gz", bomb);
  REQUIRE(fs::file_size(tmp / "bomb.gz") < 64 * 1024);
  const std::string message = data_error_message([&] { vkdrop::read_idx(tmp / "bomb.gz"); });
  CHECK_THAT(message, Contains((tmp / "bomb.gz").string()) && Contains("header says 3x1024x1024x1024 uint8: more than") &&
                          Contains("max_bytes"));

  // The limit is the caller's to raise or lower.
  write_raw(tmp / "b", idx_bytes(vkdrop::k_idx_u8, {2000}, ramp(2000)));
  CHECK_THAT(data_error_message([&] { vkdrop::read_idx(tmp / "b", 1999); }), Contains("more than the 1999 bytes"));
  CHECK(vkdrop::read_idx(tmp / "b", 2000).bytes == ramp(2000));
}

TEST_CASE("read_idx: a header that lies within the limit costs the bytes the file holds, not its claim", "[idx]") {
  // The largest resident set this process has had, in bytes.
  const auto peak_resident_bytes = [] {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
  };
  TempDir tmp;
  // Raw: the file's size shows the lie before any data is read.
  write_raw(tmp / "raw", idx_bytes(vkdrop::k_idx_u8, {1000, 1000, 1000}, {1, 2, 3}));
  CHECK_THAT(data_error_message([&] { vkdrop::read_idx(tmp / "raw"); }),
             Contains("truncated: header says 1000x1000x1000 uint8 = 1000000000 bytes of data, file has 3 after the "
                      "16-byte header"));
  // Gzip: only inflating shows it. Memory follows the 1 MiB that arrive, not the 1 GB claimed.
  std::vector<uint8_t> lie = idx_bytes(vkdrop::k_idx_u8, {1000, 1000, 1000}, {});
  lie.resize(lie.size() + (size_t{1} << 20), 0);
  write_gz(tmp / "lie.gz", lie);
  const uint64_t before = peak_resident_bytes();
  CHECK_THAT(data_error_message([&] { vkdrop::read_idx(tmp / "lie.gz"); }),
             Contains("file has 1048576 after the 16-byte header (decompressed)"));
  CHECK(peak_resident_bytes() - before < (uint64_t{64} << 20));

#if !defined(__SANITIZE_ADDRESS__)
  // Address space too: a child process limited to 256 MiB more than it already maps reads the same file
  // and must get the DataError, not std::bad_alloc from reserving the claimed 1 GB. (Not under
  // AddressSanitizer, whose shadow mappings make an address-space limit meaningless.)
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::ifstream statm("/proc/self/statm");
    uint64_t mapped_pages = 0;
    statm >> mapped_pages;
    const rlim_t limit = mapped_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) + (rlim_t{256} << 20);
    const rlimit address_space{limit, limit};
    if (setrlimit(RLIMIT_AS, &address_space) != 0) _exit(3);
    try {
      vkdrop::read_idx(tmp / "lie.gz");
      _exit(4);
    } catch (const vkdrop::DataError&) {
      _exit(0);
    } catch (const std::bad_alloc&) {
      _exit(1);
    } catch (...) {
      _exit(2);
    }
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  INFO("child exit code: 0 = DataError, 1 = std::bad_alloc, 2 = another exception, 3 = setrlimit failed, "
       "4 = no error");
  CHECK(WEXITSTATUS(status) == 0);
#endif
}

TEST_CASE("read_idx: trailing bytes after the data are a DataError", "[idx]") {
  TempDir tmp;
  std::vector<uint8_t> file = idx_bytes(vkdrop::k_idx_u8, {2, 2}, {1, 2, 3, 4});
  file.push_back(5);
  file.push_back(6);
  write_raw(tmp / "a", file);
  const std::string message = data_error_message([&] { vkdrop::read_idx(tmp / "a"); });
  CHECK_THAT(message, Contains((tmp / "a").string()));
  CHECK_THAT(message, Contains("2 trailing bytes"));

  write_gz(tmp / "a.gz", file);
  CHECK_THAT(data_error_message([&] { vkdrop::read_idx(tmp / "a.gz"); }), Contains("2 trailing bytes"));

  // A gzip tail that would inflate to gigabytes is counted no further than needed to refuse it.
  file.resize(file.size() + (size_t{16} << 20), 0);
  write_gz(tmp / "tail.gz", file);
  CHECK_THAT(data_error_message([&] { vkdrop::read_idx(tmp / "tail.gz"); }),
             Contains("at least ") && Contains(" trailing bytes after the data"));
}

TEST_CASE("read_idx: a missing file is a DataError that says how to fetch the data", "[idx]") {
  TempDir tmp;
  const std::string message = data_error_message([&] { vkdrop::read_idx(tmp / "nope-idx3-ubyte"); });
  CHECK_THAT(message, Contains((tmp / "nope-idx3-ubyte").string()));
  CHECK_THAT(message, Contains("./vkdrop.sh data"));
}

TEST_CASE("read_idx_u8 checks the type and the number of dimensions", "[idx]") {
  TempDir tmp;
  write_raw(tmp / "a", idx_bytes(vkdrop::k_idx_u8, {2, 2}, {1, 2, 3, 4}));
  CHECK(vkdrop::read_idx_u8(tmp / "a", 2).bytes == std::vector<uint8_t>{1, 2, 3, 4});
  CHECK_THAT(data_error_message([&] { vkdrop::read_idx_u8(tmp / "a", 3); }), Contains("expected 3"));
  write_raw(tmp / "b", idx_bytes(vkdrop::k_idx_i16, {2}, {1, 2, 3, 4}));
  CHECK_THAT(data_error_message([&] { vkdrop::read_idx_u8(tmp / "b", 1); }), Contains("int16"));
}

TEST_CASE("load_mnist reads the four files, raw or gzipped", "[mnist]") {
  TempDir tmp;
  write_small_mnist(tmp.path());

  SECTION("raw") {
    const vkdrop::Mnist mnist = vkdrop::load_mnist(tmp.path());
    CHECK(mnist.train.count == 12);
    CHECK(mnist.train.rows == 28);
    CHECK(mnist.train.cols == 28);
    CHECK(mnist.train.images == ramp(12 * 28 * 28));
    CHECK(mnist.train.labels == std::vector<uint8_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1});
    CHECK(mnist.test.count == 5);
    CHECK(mnist.test.images.size() == 5 * 28 * 28);
    CHECK(mnist.test.labels == std::vector<uint8_t>{0, 1, 2, 3, 4});
  }
  SECTION(".gz names") {
    for (const char* name : {"train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
      write_gz(tmp / (std::string(name) + ".gz"), read_raw(tmp / name));
      fs::remove(tmp / name);
    }
    const vkdrop::Mnist mnist = vkdrop::load_mnist(tmp.path());
    CHECK(mnist.train.images == ramp(12 * 28 * 28));
    CHECK(mnist.test.labels == std::vector<uint8_t>{0, 1, 2, 3, 4});
  }
}

TEST_CASE("load_mnist: images and labels of different counts are a DataError naming both", "[mnist]") {
  TempDir tmp;
  write_small_mnist(tmp.path());
  write_mnist_pair(tmp.path(), "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 5, 28, 28, 4);
  const std::string message = data_error_message([&] { vkdrop::load_mnist(tmp.path()); });
  CHECK_THAT(message, Contains((tmp / "t10k-images-idx3-ubyte").string()));
  CHECK_THAT(message, Contains((tmp / "t10k-labels-idx1-ubyte").string()));
  CHECK_THAT(message, Contains("5 images"));
  CHECK_THAT(message, Contains("4 labels"));
}

TEST_CASE("load_mnist: a label outside 0..9 is a DataError naming the file, index and value", "[mnist]") {
  TempDir tmp;
  write_small_mnist(tmp.path());
  std::vector<uint8_t> labels(12, 3);
  labels[7] = 10;
  write_raw(tmp / "train-labels-idx1-ubyte", idx_bytes(vkdrop::k_idx_u8, {12}, labels));
  const std::string message = data_error_message([&] { vkdrop::load_mnist(tmp.path()); });
  CHECK_THAT(message, Contains((tmp / "train-labels-idx1-ubyte").string()));
  CHECK_THAT(message, Contains("label 7 is 10"));
}

TEST_CASE("load_mnist: images that are not 28x28 are a DataError", "[mnist]") {
  TempDir tmp;
  write_small_mnist(tmp.path());
  write_mnist_pair(tmp.path(), "train-images-idx3-ubyte", "train-labels-idx1-ubyte", 12, 27, 28);
  const std::string message = data_error_message([&] { vkdrop::load_mnist(tmp.path()); });
  CHECK_THAT(message, Contains((tmp / "train-images-idx3-ubyte").string()));
  CHECK_THAT(message, Contains("27x28"));
}

TEST_CASE("load_mnist: a missing file is a DataError that says how to fetch MNIST", "[mnist]") {
  TempDir tmp;
  write_small_mnist(tmp.path());
  fs::remove(tmp / "t10k-labels-idx1-ubyte");
  const std::string message = data_error_message([&] { vkdrop::load_mnist(tmp.path()); });
  CHECK_THAT(message, Contains((tmp / "t10k-labels-idx1-ubyte").string()));
  CHECK_THAT(message, Contains("./vkdrop.sh data"));

  CHECK_THAT(data_error_message([&] { vkdrop::load_mnist(tmp / "no-such-dir"); }), Contains("./vkdrop.sh data"));
}

TEST_CASE("default_data_dir follows VKDROP_DATA_DIR, then XDG_CACHE_HOME, then HOME", "[mnist]") {
  ScopedEnv home("HOME", "/home/someone");
  {
    ScopedEnv data("VKDROP_DATA_DIR", "/data/mnist");
    ScopedEnv cache("XDG_CACHE_HOME", "/xdg");
    CHECK(vkdrop::default_data_dir() == fs::path("/data/mnist"));
  }
  {
    ScopedEnv data("VKDROP_DATA_DIR", "");
    ScopedEnv cache("XDG_CACHE_HOME", "/xdg");
    CHECK(vkdrop::default_data_dir() == fs::path("/xdg/vkdrop/mnist"));
  }
  {
    ScopedEnv data("VKDROP_DATA_DIR", nullptr);
    ScopedEnv cache("XDG_CACHE_HOME", nullptr);
    CHECK(vkdrop::default_data_dir() == fs::path("/home/someone/.cache/vkdrop/mnist"));
  }
}

TEST_CASE("the real MNIST, when fetched, has the published counts and balanced classes", "[mnist][data]") {
  const fs::path dir = vkdrop::default_data_dir();
  std::error_code ec;
  bool present = true;
  for (const char* name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte"}) {
    present = present && (fs::exists(dir / name, ec) || fs::exists(dir / (std::string(name) + ".gz"), ec));
  }
  if (!present) {
    // Not a failure: `./vkdrop.sh test` fetches MNIST first, so this only skips on a bare checkout.
    WARN("MNIST not found in " << dir.string() << "; run `./vkdrop.sh data` to test against it");
    return;
  }

  const vkdrop::Mnist mnist = vkdrop::load_mnist(dir);
  CHECK(mnist.train.count == 60000);
  CHECK(mnist.test.count == 10000);
  CHECK(mnist.train.images.size() == size_t{60000} * 28 * 28);
  CHECK(mnist.test.images.size() == size_t{10000} * 28 * 28);

  // Each digit is about a tenth of the training set (5421 fives to 6742 ones): a check that these are
  // the real labels and not, say, a file of zeros that happens to have the right length.
  std::array<int, 10> histogram{};
  for (uint8_t label : mnist.train.labels) ++histogram[label];
  for (int digit = 0; digit < 10; ++digit) {
    INFO("digit " << digit);
    CHECK(histogram[digit] >= 5000);
    CHECK(histogram[digit] <= 7000);
  }
  // The first training labels are famous: 5 0 4 1 9 2 1 3 1 4.
  CHECK(std::vector<uint8_t>(mnist.train.labels.begin(), mnist.train.labels.begin() + 10) ==
        std::vector<uint8_t>{5, 0, 4, 1, 9, 2, 1, 3, 1, 4});
  // Pixels span the full range and most are background.
  size_t zeros = 0;
  uint8_t max_pixel = 0;
  for (uint8_t p : mnist.train.images) {
    zeros += p == 0;
    max_pixel = std::max(max_pixel, p);
  }
  CHECK(max_pixel == 255);
  CHECK(zeros > mnist.train.images.size() / 2);
}

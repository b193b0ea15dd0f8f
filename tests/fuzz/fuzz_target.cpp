#include "fuzz_target.hpp"

#include <unistd.h>
#include <zlib.h>

#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace vkdrop::fuzz {

bool accepted = false;

namespace {

// Memory-backed where there is /dev/shm: a fuzzer writes a file per input, millions of them.
std::filesystem::path make_scratch_dir() {
  std::error_code ec;
  std::filesystem::path base = "/dev/shm";
  if (!std::filesystem::is_directory(base, ec) || ::access(base.c_str(), W_OK) != 0) {
    base = std::filesystem::temp_directory_path();
  }
  std::filesystem::path dir = base / ("vkdrop-fuzz-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

struct ScratchDir {
  std::filesystem::path path = make_scratch_dir();
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

}  // namespace

const std::filesystem::path& scratch_dir() {
  static const ScratchDir dir;
  return dir.path;
}

std::filesystem::path write_file(const std::string& name, std::span<const uint8_t> bytes) {
  std::filesystem::path path = scratch_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  // Not an input the reader refused: the harness itself failed, and every later result would mean nothing.
  if (!out) throw std::runtime_error("fuzz harness: cannot write " + path.string());
  return path;
}

std::vector<uint8_t> gzip(std::span<const uint8_t> bytes) {
  z_stream stream{};
  // Window bits 15 + 16: a gzip header and trailer around the deflate data, not zlib's.
  if (deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("fuzz harness: deflateInit2 failed");
  }
  std::vector<uint8_t> out(deflateBound(&stream, static_cast<uLong>(bytes.size())) + 32);
  stream.next_in = const_cast<Bytef*>(bytes.data());
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (result != Z_STREAM_END) throw std::runtime_error("fuzz harness: deflate failed");
  return out;
}

}  // namespace vkdrop::fuzz

#include <vkdrop/datasets/idx.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <vkdrop/runtime/error.hpp>

namespace vkdrop {

namespace {

namespace fs = std::filesystem;

// The IDX header allows 255 dimensions; nothing we read has more than 4, and a larger count is far more
// likely a corrupt header than a real file.
constexpr size_t k_max_dims = 4;

// The payload is read in chunks into a buffer that grows as they arrive, never reserved up front from the
// header's claim: a short gzip file that claims 1 GiB costs the bytes it holds, in resident memory and in
// address space alike (a process under `ulimit -v` gets the DataError, not std::bad_alloc).
constexpr size_t k_chunk_bytes = size_t{1} << 22;

// One open file, raw or gzip: zlib's gzread passes raw files through unchanged ("transparent" mode), so
// both take the same path and the caller never needs to look at the magic itself.
class GzReader {
 public:
  explicit GzReader(const fs::path& path) : path_(path), file_(gzopen(path.c_str(), "rb")) {
    if (file_ == nullptr) {
      // gzopen sets errno for open() failures and leaves it 0 only when out of memory.
      const int err = errno;
      throw DataError(fmt::format("{}: cannot open: {}", path_.string(),
                                  err != 0 ? std::strerror(err) : "out of memory"));
    }
    // Larger than zlib's 8 KiB default: fewer read() calls and inflate rounds for the 47 MB training images.
    gzbuffer(file_, 1u << 17);
  }
  ~GzReader() { gzclose(file_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to n bytes into dst and returns how many arrived: fewer than n only at the end of the data.
  // A damaged gzip stream throws rather than looking like a short file, so the message says which it is.
  size_t read(void* dst, size_t n) {
    auto* out = static_cast<uint8_t*>(dst);
    size_t done = 0;
    while (done < n) {
      // gzread takes an unsigned and returns an int, so ask for at most 1 GiB at a time.
      const unsigned want = static_cast<unsigned>(std::min<size_t>(n - done, size_t{1} << 30));
      const int got = gzread(file_, out + done, want);
      if (got > 0) done += static_cast<size_t>(got);
      if (got < static_cast<int>(want)) {
        throw_if_failed();
        break;
      }
    }
    return done;
  }

  // Whether the file was gzip-compressed; meaningful once something has been read.
  bool compressed() { return gzdirect(file_) == 0; }

 private:
  void throw_if_failed() {
    int code = Z_OK;
    std::string message = gzerror(file_, &code);
    if (code == Z_OK) return;
    // zlib prefixes its message with the path, which ours already starts with.
    if (const std::string prefix = path_.string() + ": "; message.starts_with(prefix)) {
      message.erase(0, prefix.size());
    }
    if (code == Z_BUF_ERROR) {
      // zlib's name for "the input ended inside the gzip stream": an interrupted download, typically.
      throw DataError(fmt::format("{}: truncated: the gzip stream ends early ({})", path_.string(), message));
    }
    if (code == Z_ERRNO) {
      throw DataError(fmt::format("{}: cannot read: {}", path_.string(), std::strerror(errno)));
    }
    throw DataError(fmt::format("{}: corrupt gzip data: {}", path_.string(), message));
  }

  fs::path path_;
  gzFile file_;
};

// "60000x28x28": the way shapes appear in every message.
std::string shape_text(const std::vector<uint32_t>& dims) { return fmt::format("{}", fmt::join(dims, "x")); }

}  // namespace

size_t IdxArray::count() const {
  size_t n = 1;
  for (uint32_t d : dims) n *= d;
  return n;
}

size_t idx_element_size(uint8_t type_code) {
  switch (type_code) {
    case k_idx_u8:
    case k_idx_i8:
      return 1;
    case k_idx_i16:
      return 2;
    case k_idx_i32:
    case k_idx_f32:
      return 4;
    case k_idx_f64:
      return 8;
    default:
      return 0;
  }
}

std::string idx_type_name(uint8_t type_code) {
  switch (type_code) {
    case k_idx_u8:
      return "uint8";
    case k_idx_i8:
      return "int8";
    case k_idx_i16:
      return "int16";
    case k_idx_i32:
      return "int32";
    case k_idx_f32:
      return "float32";
    case k_idx_f64:
      return "float64";
    default:
      return fmt::format("unknown type 0x{:02x}", type_code);
  }
}

IdxArray read_idx(const fs::path& path, uint64_t max_bytes) {
  const std::string name = path.string();
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw DataError(fmt::format("{}: no such file; run `./vkdrop.sh data` to fetch the data sets", name));
  }
  if (fs::is_directory(path, ec)) throw DataError(fmt::format("{}: is a directory, not an IDX file", name));

  GzReader reader(path);

  uint8_t header[4] = {};
  const size_t header_got = reader.read(header, sizeof header);
  if (header_got < sizeof header) {
    throw DataError(fmt::format("{}: truncated: {} bytes, too short for the 4-byte IDX header", name, header_got));
  }
  if (header[0] != 0 || header[1] != 0) {
    throw DataError(fmt::format("{}: not an IDX file: bad magic {:02x} {:02x} {:02x} {:02x} (the first two bytes "
                                "must be 00 00)",
                                name, header[0], header[1], header[2], header[3]));
  }

  IdxArray array;
  array.type_code = header[2];
  const size_t element_size = idx_element_size(array.type_code);
  if (element_size == 0) {
    throw DataError(fmt::format("{}: unknown IDX element type code 0x{:02x} (known: 0x08 uint8, 0x09 int8, "
                                "0x0b int16, 0x0c int32, 0x0d float32, 0x0e float64)",
                                name, array.type_code));
  }
  const size_t ndims = header[3];
  if (ndims < 1 || ndims > k_max_dims) {
    throw DataError(fmt::format("{}: header says {} dimensions; vkdrop reads IDX files of 1 to {} dimensions",
                                name, ndims, k_max_dims));
  }

  uint8_t dims_be[4 * k_max_dims] = {};
  const size_t dims_got = reader.read(dims_be, 4 * ndims);
  if (dims_got < 4 * ndims) {
    throw DataError(fmt::format("{}: truncated: the header ends inside its {} dimension sizes", name, ndims));
  }
  for (size_t i = 0; i < ndims; ++i) {
    const uint8_t* b = dims_be + 4 * i;
    array.dims.push_back(uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | uint32_t{b[3]});
  }
  const size_t header_bytes = sizeof header + 4 * ndims;
  const std::string shape = shape_text(array.dims);
  const std::string type_name = idx_type_name(array.type_code);
  uint64_t payload_bytes = element_size;
  for (uint32_t dim : array.dims) {
    // Checked before each multiplication, so the product cannot wrap around before it is compared.
    if (dim != 0 && payload_bytes > max_bytes / dim) {
      throw DataError(fmt::format("{}: header says {} {}: more than the {} bytes ({:.0f} MiB) vkdrop reads from one "
                                  "IDX file. A damaged header, or a gzip file that would inflate far beyond its own "
                                  "size? (read_idx's max_bytes raises the limit for a data set that really is this large)",
                                  name, shape, type_name, max_bytes, static_cast<double>(max_bytes) / (1 << 20)));
    }
    payload_bytes *= dim;
  }
  // A raw file's size is known: one too short for its header's claim is refused before its data is read.
  std::error_code size_error;
  const uint64_t file_bytes = fs::file_size(path, size_error);
  if (!size_error && !reader.compressed() && file_bytes - header_bytes < payload_bytes) {
    throw DataError(fmt::format("{}: truncated: header says {} {} = {} bytes of data, file has {} after the "
                                "{}-byte header", name, shape, type_name, payload_bytes, file_bytes - header_bytes,
                                header_bytes));
  }

  while (array.bytes.size() < payload_bytes) {
    const size_t old_size = array.bytes.size();
    const size_t want = static_cast<size_t>(std::min<uint64_t>(payload_bytes - old_size, k_chunk_bytes));
    // Capacity doubles as bytes arrive, capped by the claim: a header that lies costs at most twice what
    // the file really holds (address space included), and an honest file about one copy of itself.
    if (old_size + want > array.bytes.capacity()) {
      array.bytes.reserve(static_cast<size_t>(
          std::min<uint64_t>(payload_bytes, std::max<uint64_t>(uint64_t{2} * array.bytes.capacity(), old_size + want))));
    }
    array.bytes.resize(old_size + want);
    const size_t got = reader.read(array.bytes.data() + old_size, want);
    if (got < want) {
      array.bytes.resize(old_size + got);
      break;
    }
  }
  if (array.bytes.size() < payload_bytes) {
    throw DataError(fmt::format("{}: truncated: header says {} {} = {} bytes of data, file has {} after the "
                                "{}-byte header{}",
                                name, shape, type_name, payload_bytes, array.bytes.size(), header_bytes,
                                reader.compressed() ? " (decompressed)" : ""));
  }

  // Trailing bytes mean the header and the data disagree (or two files were glued together): either
  // way the header cannot be trusted, so the file is refused instead of silently cut short. They are
  // counted up to one chunk only: a gzip tail that inflates to gigabytes is not worth the time.
  uint64_t trailing = 0;
  uint8_t scratch[1 << 12];
  while (trailing <= k_chunk_bytes) {
    const size_t got = reader.read(scratch, sizeof scratch);
    if (got == 0) break;
    trailing += got;
  }
  if (trailing > 0) {
    const std::string at_least = trailing > k_chunk_bytes ? "at least " : "";
    throw DataError(fmt::format("{}: {}{} trailing bytes after the data: header says {} {} = {} bytes of data, "
                                "file has {}{} after the {}-byte header{}",
                                name, at_least, trailing, shape, type_name, payload_bytes, at_least,
                                payload_bytes + trailing, header_bytes, reader.compressed() ? " (decompressed)" : ""));
  }

  // IDX stores multi-byte elements big-endian; callers get host order so they can use the data directly.
  if (element_size > 1 && std::endian::native == std::endian::little) {
    for (auto it = array.bytes.begin(); it != array.bytes.end(); it += static_cast<ptrdiff_t>(element_size)) {
      std::reverse(it, it + static_cast<ptrdiff_t>(element_size));
    }
  }
  return array;
}

IdxArray read_idx_u8(const fs::path& path, size_t expected_ndims) {
  IdxArray array = read_idx(path);
  if (array.type_code != k_idx_u8) {
    throw DataError(fmt::format("{}: holds {} elements, expected uint8", path.string(),
                                idx_type_name(array.type_code)));
  }
  if (array.dims.size() != expected_ndims) {
    throw DataError(fmt::format("{}: has {} dimensions ({}), expected {}", path.string(), array.dims.size(),
                                shape_text(array.dims), expected_ndims));
  }
  return array;
}

}  // namespace vkdrop

#include <vkdrop/train/safetensors.hpp>

#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <tuple>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

namespace vkdrop {

std::function<void(const std::filesystem::path& to)> before_rename_for_tests;

namespace {

// The largest JSON header read, as in the safetensors library itself (MAX_HEADER_SIZE): a header is a few
// hundred bytes per tensor, so a longer one is damage, and is refused before it is allocated.
constexpr uint64_t k_max_header_bytes = 100'000'000;

// A shape's dimensions and the data offsets must be JSON unsigned integers: nlohmann would convert a float
// (1e30, -5.0) with undefined behaviour, 1.9 to 1, and a negative integer to a huge one.
uint64_t unsigned_integer(const nlohmann::json& value, const std::string& file, const std::string& tensor,
                          const char* what, const nlohmann::json& whole) {
  if (!value.is_number_unsigned()) {
    throw DataError(fmt::format("{}: tensor {} has {} {}: {} is not a whole number >= 0", file, tensor, what,
                                whole.dump(), value.dump()));
  }
  return value.get<uint64_t>();
}

// An open safetensors file, its JSON header parsed and its sizes checked against the file.
struct Header {
  std::ifstream in;
  uint64_t length = 0;     // bytes of JSON after the 8-byte length
  uint64_t data_size = 0;  // bytes after the JSON
  nlohmann::json json;     // an object
};

Header read_header(const std::filesystem::path& path) {
  const std::string name = path.string();
  Header h{std::ifstream(path, std::ios::binary)};
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw DataError(fmt::format("{}: {}", name, std::filesystem::exists(path, ec) ? "not a regular file"
                                                                                 : "cannot open checkpoint (does it exist?)"));
  }
  if (!h.in) throw DataError(fmt::format("{}: cannot open checkpoint (permissions?)", name));
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) throw DataError(fmt::format("{}: cannot read its size ({})", name, ec.message()));
  if (size < 8 || !h.in.read(reinterpret_cast<char*>(&h.length), 8)) {
    throw DataError(fmt::format("{}: truncated: shorter than the 8-byte header length", name));
  }
  if (h.length > size - 8) {
    throw DataError(fmt::format("{}: truncated or not safetensors: header length {} exceeds the file ({} bytes)", name,
                                h.length, size));
  }
  if (h.length > k_max_header_bytes) {
    throw DataError(fmt::format("{}: not safetensors: header length {} is more than the {} bytes safetensors allows",
                                name, h.length, k_max_header_bytes));
  }
  std::string json(h.length, '\0');
  h.in.read(json.data(), static_cast<std::streamsize>(h.length));
  try {
    h.json = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(fmt::format("{}: the header is not valid JSON ({})", name, e.what()));
  }
  if (!h.json.is_object()) throw DataError(fmt::format("{}: the header is not a JSON object", name));
  h.data_size = size - 8 - h.length;
  return h;
}

std::map<std::string, std::string> metadata_of(const nlohmann::json& header, const std::string& name) {
  std::map<std::string, std::string> metadata;
  const auto it = header.find("__metadata__");
  if (it == header.end()) return metadata;
  if (!it->is_object()) throw DataError(fmt::format("{}: __metadata__ is not a JSON object", name));
  for (auto m = it->begin(); m != it->end(); ++m) metadata[m.key()] = m->is_string() ? m->get<std::string>() : m->dump();
  return metadata;
}

// Removes the `path`.tmp-PID files that killed writes of `path` left behind: this process's own (its writes of
// `path` have all finished when this runs) and those of processes no longer running. A live process's
// temporary is a write in progress and stays.
void remove_stale_temporaries(const std::filesystem::path& path) {
  const std::string prefix = path.filename().string() + ".tmp-";
  std::error_code ec;
  std::filesystem::directory_iterator it(path.has_parent_path() ? path.parent_path() : ".", ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.starts_with(prefix)) continue;
    pid_t pid = 0;
    const char* digits = name.data() + prefix.size();
    const auto [stop, error] = std::from_chars(digits, name.data() + name.size(), pid);
    if (error != std::errc{} || stop != name.data() + name.size() || pid <= 0) continue;  // not one of ours
    const bool other_live_process = pid != ::getpid() && (::kill(pid, 0) == 0 || errno == EPERM);
    std::error_code ignored;
    if (!other_live_process) std::filesystem::remove(it->path(), ignored);
  }
}

std::filesystem::path temporary_beside(const std::filesystem::path& path) {
  std::filesystem::path tmp = path;
  tmp += fmt::format(".tmp-{}", ::getpid());
  return tmp;
}

[[noreturn]] void throw_cannot_create(const std::filesystem::path& path) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::current_path();
  throw DataError(fmt::format("{}: cannot create (check that the directory {} exists and is writable)", path.string(),
                              dir.string()));
}

}  // namespace

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; so is this code");

const NamedTensor* SafetensorsFile::find(const std::string& name) const {
  for (const NamedTensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

void check_can_write(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw DataError(fmt::format("{}: is a directory; name a file to write (e.g. {})", path.string(),
                                (path / "model.safetensors").string()));
  }
  const std::filesystem::path tmp = temporary_beside(path);
  if (!std::ofstream(tmp, std::ios::binary | std::ios::trunc)) throw_cannot_create(path);
  std::filesystem::remove(tmp, ec);
}

void write_safetensors(const std::filesystem::path& path, const SafetensorsFile& file) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  uint64_t offset = 0;
  for (const NamedTensor& t : file.tensors) {
    if (static_cast<int64_t>(t.values.size()) != element_count(t.shape)) {
      throw ArgumentError(fmt::format("write_safetensors: tensor {} has {} values for shape {}", t.name,
                                      t.values.size(), shape_text(t.shape)));
    }
    const uint64_t bytes = t.values.size() * sizeof(float);
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // pad so the data starts 8-byte aligned
  const uint64_t length = json.size();

  const std::filesystem::path tmp = temporary_beside(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw_cannot_create(path);
    out.write(reinterpret_cast<const char*>(&length), sizeof length);
    out.write(json.data(), static_cast<std::streamsize>(json.size()));
    for (const NamedTensor& t : file.tensors)
      out.write(reinterpret_cast<const char*>(t.values.data()), static_cast<std::streamsize>(t.values.size() * sizeof(float)));
    out.flush();
    if (!out) {
      std::filesystem::remove(tmp);
      throw DataError(fmt::format("{}: write failed (disk full?); the previous checkpoint is untouched", path.string()));
    }
  }
  // fsync before the rename, so the rename never publishes data that is still only in the page cache.
  if (FILE* f = std::fopen(tmp.c_str(), "rb")) {
    ::fsync(fileno(f));
    std::fclose(f);
  }
  try {
    rename_durably(tmp, path);
  } catch (const DataError&) {
    std::filesystem::remove(tmp);
    throw;
  }
  remove_stale_temporaries(path);
}

void rename_durably(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (before_rename_for_tests) before_rename_for_tests(to);
  std::error_code ec;
  std::filesystem::rename(from, to, ec);
  if (ec) throw DataError(fmt::format("{}: cannot replace ({})", to.string(), ec.message()));
  // The rename itself lives in the directory: sync it too, or a crash may forget it.
  const std::filesystem::path dir = to.has_parent_path() ? to.parent_path() : std::filesystem::path(".");
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

std::map<std::string, std::string> read_safetensors_metadata(const std::filesystem::path& path) {
  return metadata_of(read_header(path).json, path.string());
}

SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  const std::string name = path.string();
  Header h = read_header(path);
  std::ifstream& in = h.in;
  const nlohmann::json& header = h.json;
  const uint64_t length = h.length, data_size = h.data_size;

  SafetensorsFile file;
  file.metadata = metadata_of(header, name);
  struct Entry {
    std::string name;
    Shape shape;
    uint64_t begin, end;
    bool int64;  // I64 on disk (PyTorch's num_batches_tracked), read as exact float values
  };
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const nlohmann::json& t = *it;
    try {
      const std::string dtype = t.at("dtype").get<std::string>();
      if (dtype != "F32" && dtype != "I64") {
        throw DataError(fmt::format("{}: tensor {} has dtype {}; vkdrop reads F32 (and I64 counters, such as "
                                    "BatchNorm's num_batches_tracked) only", name, it.key(), dtype));
      }
      const nlohmann::json& shape = t.at("shape");
      const nlohmann::json& offsets = t.at("data_offsets");
      if (!shape.is_array()) throw DataError(fmt::format("{}: tensor {} has shape {}, not a list", name, it.key(), shape.dump()));
      if (!offsets.is_array() || offsets.size() != 2) {
        throw DataError(fmt::format("{}: tensor {} has data_offsets {}, not [begin, end]", name, it.key(), offsets.dump()));
      }
      Entry e{it.key(), {}, unsigned_integer(offsets[0], name, it.key(), "data_offsets", offsets),
              unsigned_integer(offsets[1], name, it.key(), "data_offsets", offsets), dtype == "I64"};
      constexpr uint64_t most = uint64_t{1} << 62;  // bytes: no file is larger
      uint64_t want = e.int64 ? sizeof(int64_t) : sizeof(float);
      for (const nlohmann::json& d : shape) {
        const uint64_t dim = unsigned_integer(d, name, e.name, "shape", shape);
        // Checked before each multiplication: the product cannot wrap around, and each dimension fits an int64_t.
        if (dim > most || (dim != 0 && want > most / dim)) {
          throw DataError(fmt::format("{}: tensor {} has an impossible shape {}", name, e.name, shape.dump()));
        }
        want *= dim;
        e.shape.push_back(static_cast<int64_t>(dim));
      }
      if (e.end < e.begin || e.end - e.begin != want) {
        throw DataError(fmt::format("{}: tensor {} of shape {} needs {} bytes, its offsets [{}, {}) say otherwise",
                                    name, e.name, shape_text(e.shape), want, e.begin, e.end));
      }
      if (e.end > data_size) {
        throw DataError(fmt::format("{}: truncated: tensor {} ends at byte {} of the data, which has {}", name, e.name,
                                    e.end, data_size));
      }
      entries.push_back(std::move(e));
    } catch (const nlohmann::json::exception& ex) {
      throw DataError(fmt::format("{}: tensor {}: malformed entry ({})", name, it.key(), ex.what()));
    }
  }
  // As the format requires: the tensors tile the data, in some order, without overlap or gaps. Overlapping
  // tensors would let a small file ask for its size in memory once per tensor.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  uint64_t covered = 0;
  for (const Entry& e : entries) {
    if (e.begin != covered) {
      throw DataError(fmt::format("{}: tensor {} starts at byte {} of the data, where the tensors before it end at {}: "
                                  "safetensors tensors neither overlap nor leave gaps", name, e.name, e.begin, covered));
    }
    covered = e.end;
  }
  if (covered != data_size) {
    throw DataError(fmt::format("{}: {} bytes of data after the last tensor (at byte {}): not safetensors, or damaged",
                                name, data_size - covered, covered));
  }
  for (const Entry& e : entries) {
    in.seekg(static_cast<std::streamoff>(8 + length + e.begin));
    const auto read_into = [&](void* data) {
      if (!in.read(static_cast<char*>(data), static_cast<std::streamsize>(e.end - e.begin))) {
        throw DataError(fmt::format("{}: could not read tensor {}", name, e.name));
      }
    };
    NamedTensor t{e.name, e.shape, {}};
    if (!e.int64) {
      t.values.resize((e.end - e.begin) / sizeof(float));
      read_into(t.values.data());
    } else {
      // vkdrop keeps counters as f32, exact up to 2^24 (16.7 M batches); a larger count would silently round.
      std::vector<int64_t> counts((e.end - e.begin) / sizeof(int64_t));
      read_into(counts.data());
      constexpr int64_t exact = int64_t{1} << 24;
      for (const int64_t v : counts) {
        if (v < -exact || v > exact) {
          throw DataError(fmt::format("{}: tensor {} holds the integer {}, beyond the 2^24 that vkdrop's f32 state "
                                      "holds exactly", name, e.name, v));
        }
        t.values.push_back(static_cast<float>(v));
      }
    }
    file.tensors.push_back(std::move(t));
  }
  return file;
}

}  // namespace vkdrop

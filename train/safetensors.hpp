#pragma once
// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of
// JSON {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ..., "__metadata__": {...}},
// then the raw little-endian tensor data. vkdrop writes F32 tensors and reads F32, and I64 as exact floats (PyTorch
// keeps BatchNorm's num_batches_tracked as int64; up to 2^24).

#include <vkdrop/runtime/tensor.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace vkdrop {

struct NamedTensor {
  std::string name;           // e.g. "0.weight", as in PyTorch's state_dict
  Shape shape;
  std::vector<float> values;  // numel(shape) values, row-major
};

struct SafetensorsFile {
  std::vector<NamedTensor> tensors;             // in file order
  std::map<std::string, std::string> metadata;  // "__metadata__": string to string
  const NamedTensor* find(const std::string& name) const;
};

// Writes to a temporary file beside `path` (`path`.tmp-PID), flushes it, then renames it over `path`: a crash
// leaves either the old file or the new one, never half of one. Once the new file is in place, it removes the
// temporaries of `path` that a killed write left behind (those of this process, or of one no longer running).
// Throws DataError if it cannot write.
void write_safetensors(const std::filesystem::path& path, const SafetensorsFile& file);

// Throws the DataError write_safetensors(path, ...) would if it could not create its temporary file beside
// `path` (the directory missing, not a directory, or not writable), or if `path` is a directory. It creates and
// removes that file to find out: call it before hours of training, not after.
void check_can_write(const std::filesystem::path& path);

// Renames `from` over `to` (atomic on POSIX) and syncs the directory, so the rename survives a crash.
// Throws DataError if it cannot.
void rename_durably(const std::filesystem::path& from, const std::filesystem::path& to);

// For crash tests only: when set, rename_durably calls it with `to` before renaming, i.e. once a temporary
// file is complete and before Model::save moves PATH.optim aside. A hook that throws stops the save with the
// files exactly as a kill -9 at that moment would leave them. Empty in normal use; not thread-safe.
extern std::function<void(const std::filesystem::path& to)> before_rename_for_tests;

// Throws DataError naming the file and what is wrong: missing, truncated, bad JSON, a dtype other than F32 or I64
// (or an I64 beyond 2^24),
// offsets outside the data or not matching the shape.
SafetensorsFile read_safetensors(const std::filesystem::path& path);

// The "__metadata__" of a safetensors file, read from its header alone (the tensors are not read or checked).
// Throws DataError as read_safetensors does for a missing file or a bad header.
std::map<std::string, std::string> read_safetensors_metadata(const std::filesystem::path& path);

}  // namespace vkdrop

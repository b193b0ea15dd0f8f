#pragma once
// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of
// JSON {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ..., "__metadata__": {...}},
// then the raw little-endian tensor data. vkdrop writes and reads F32 tensors.

#include <vkdrop/runtime/tensor.hpp>

#include <filesystem>
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

// Writes to a temporary file beside `path`, flushes it, then renames it over `path`: a crash leaves
// either the old file or the new one, never half of one. Throws DataError if it cannot write.
void write_safetensors(const std::filesystem::path& path, const SafetensorsFile& file);

// Renames `from` over `to` (atomic on POSIX) and syncs the directory, so the rename survives a crash.
// Throws DataError if it cannot.
void rename_durably(const std::filesystem::path& from, const std::filesystem::path& to);

// Throws DataError naming the file and what is wrong: missing, truncated, bad JSON, a dtype other than F32,
// offsets outside the data or not matching the shape.
SafetensorsFile read_safetensors(const std::filesystem::path& path);

}  // namespace vkdrop

// The safetensors reader (train/safetensors.hpp) on any file: the 8-byte header length, the JSON header,
// each tensor's dtype, shape and data offsets, and the data they point into.

#include "fuzz_target.hpp"

#include <vkdrop/runtime/error.hpp>
#include <vkdrop/train/safetensors.hpp>

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = vkdrop::fuzz::write_file("input.safetensors", {data, size});
  vkdrop::fuzz::accepted = false;
  try {
    const vkdrop::SafetensorsFile file = vkdrop::read_safetensors(path);
    // What the reader promises of a file it accepts: every tensor holds exactly its shape's values.
    for (const vkdrop::NamedTensor& t : file.tensors) {
      if (static_cast<int64_t>(t.values.size()) != vkdrop::element_count(t.shape)) std::abort();
    }
    vkdrop::fuzz::accepted = true;
  } catch (const vkdrop::Error&) {
  }
  return 0;
}

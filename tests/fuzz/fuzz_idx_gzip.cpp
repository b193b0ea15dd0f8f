// The IDX reader (datasets/idx.hpp) on gzip files whose contents are the input: the fuzzer mutates the IDX
// header and data behind a valid gzip stream, which mutating compressed bytes (fuzz_idx) rarely reaches.

#include "fuzz_target.hpp"

#include <vkdrop/datasets/idx.hpp>
#include <vkdrop/runtime/error.hpp>

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = vkdrop::fuzz::write_file("input.idx.gz", vkdrop::fuzz::gzip({data, size}));
  vkdrop::fuzz::accepted = false;
  try {
    const vkdrop::IdxArray array = vkdrop::read_idx(path);
    // What the reader promises of an array it accepts.
    if (array.bytes.size() != array.count() * vkdrop::idx_element_size(array.type_code)) std::abort();
    vkdrop::fuzz::accepted = true;
  } catch (const vkdrop::Error&) {
  }
  return 0;
}

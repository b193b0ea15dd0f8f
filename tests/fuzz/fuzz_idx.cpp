// The IDX reader (datasets/idx.hpp) on any file: raw IDX, gzip streams (the seeds include .gz files, so the
// fuzzer also mutates compressed bytes: damaged streams, bad CRCs, truncations), or neither.

#include "fuzz_target.hpp"

#include <vkdrop/datasets/idx.hpp>
#include <vkdrop/runtime/error.hpp>

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = vkdrop::fuzz::write_file("input.idx", {data, size});
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

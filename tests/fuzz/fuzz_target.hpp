#pragma once
// What the fuzz targets share. Each tests/fuzz/fuzz_<reader>.cpp defines LLVMFuzzerTestOneInput for one reader
// of untrusted bytes. Built two ways (tests/fuzz/CMakeLists.txt):
//   - with clang's libFuzzer and ASan + UBSan (`./vkdrop.sh fuzz`), which generates inputs;
//   - with replay.cpp's main() and any compiler, which feeds it every file of its seed corpus (ctest), so an
//     input that once crashed a reader stays in the corpus and in every CI run.
//
// A target must survive any input: the readers refuse bad bytes with vkdrop::Error, which the target catches.
// Nothing else is caught: any other exception, a crash, a leak or undefined behaviour is a finding.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace vkdrop::fuzz {

// Set by the target for an input the reader accepted, cleared for one it refused. replay.cpp checks that the
// corpus files named valid-* are accepted and bad-* refused, so the seeds keep reaching past the first check.
extern bool accepted;

// A directory of this process's own, removed at exit: the readers take paths, so inputs become files.
const std::filesystem::path& scratch_dir();

// Writes `bytes` to scratch_dir() / name, replacing what was there, and returns that path.
std::filesystem::path write_file(const std::string& name, std::span<const uint8_t> bytes);

// `bytes` as one gzip member, as `gzip -1` writes it.
std::vector<uint8_t> gzip(std::span<const uint8_t> bytes);

}  // namespace vkdrop::fuzz

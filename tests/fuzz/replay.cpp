// main() for a fuzz target built without libFuzzer: feeds it every file of the corpus directories (or files)
// given, in name order, as ctest does on every run. Besides surviving every input, a file named valid-* must be
// accepted and one named bad-* refused (other names may go either way), and no input may cause a Vulkan
// validation message (the layer is on, as in the other tests). Prints one line per file.

#include "fuzz_target.hpp"

#include <vkdrop/runtime/context.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

// Defined by the targets that set up a device before their first input, as libFuzzer calls it.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

int main(int argc, char* argv[]) {
  setenv("VKDROP_VALIDATION", "1", /*overwrite=*/1);
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg = argv[i];
    if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::directory_iterator(arg)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else {
      files.push_back(arg);
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::cerr << "usage: " << argv[0] << " CORPUS_DIR_OR_FILE...   (no input files found)\n";
    return 2;
  }

  int failures = 0;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in.eof() && !in) {
      std::cerr << file.string() << ": cannot read\n";
      return 2;
    }
    vkdrop::fuzz::accepted = false;
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    const std::string name = file.filename().string();
    std::string verdict = vkdrop::fuzz::accepted ? "accepted" : "refused";
    if (name.starts_with("valid") && !vkdrop::fuzz::accepted) {
      verdict += "  FAILED: a valid-* seed must be accepted";
      ++failures;
    } else if (name.starts_with("bad") && vkdrop::fuzz::accepted) {
      verdict += "  FAILED: a bad-* seed must be refused";
      ++failures;
    }
    for (const std::string& message : vkdrop::take_validation_messages()) {
      verdict += "\n  FAILED: Vulkan validation message: " + message;
      ++failures;
    }
    std::cout << file.string() << " (" << bytes.size() << " bytes): " << verdict << "\n";
  }
  std::cout << files.size() << " inputs, " << failures << " failures\n";
  return failures == 0 ? 0 : 1;
}

// The pipeline-cache file (runtime/pipeline_cache.hpp): load_pipeline_cache, what a Context does with the file
// in its cache directory, on any bytes. vkdrop hands the bytes to the driver unread, so this tries the driver's
// own header checks (and, on the device the fuzzer runs on, whatever it parses behind them) from vkdrop's side:
// any file found in the cache directory must give a cache or a vkdrop error, never a crash. The cache it gives
// is then written out (vkGetPipelineCacheData) as Context::save_pipeline_cache does. libFuzzer sees coverage of
// vkdrop's code only, not the driver's, so here it mutates the seeds blindly.

#include "fuzz_target.hpp"

#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/pipeline_cache.hpp>

#include <vector>

namespace {

vkdrop::Context& context() {
  static vkdrop::Context ctx;
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  context();  // the device first, so that no input is charged its seconds
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = vkdrop::fuzz::write_file("pipelines.bin", {data, size});
  vkdrop::fuzz::accepted = false;
  try {
    const VkDevice device = context().device();
    const vkdrop::UniquePipelineCache cache = vkdrop::load_pipeline_cache(device, path);
    size_t bytes = 0;
    VKDROP_CHECK(vkGetPipelineCacheData(device, cache, &bytes, nullptr));
    std::vector<char> out(bytes);
    VKDROP_CHECK(vkGetPipelineCacheData(device, cache, &bytes, out.data()));
    vkdrop::fuzz::accepted = true;
  } catch (const vkdrop::Error&) {
  }
  return 0;
}

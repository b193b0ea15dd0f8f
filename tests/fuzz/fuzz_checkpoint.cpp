// A checkpoint pair (train/checkpoint.cpp): Model::load of PATH, PATH.optim and PATH.optim.old, all three
// from the input (checkpoint_models.hpp says how it is split). This is the whole load, device included: the
// safetensors reads, the checkpoint id pairing, the seed, optimizer, step and epoch metadata, the checks of
// names, shapes and sizes, and for an accepted pair the upload. The models live on one Context for the
// process (lavapipe in CI); a refused pair never reaches the device, so most inputs cost file reads only.

#include "checkpoint_models.hpp"
#include "fuzz_target.hpp"

#include <vkdrop/runtime/error.hpp>

#include <algorithm>

namespace {

struct Models {
  vkdrop::Context context;
  vkdrop::Model sgd{context, vkdrop::fuzz::checkpoint_net(), {vkdrop::fuzz::k_checkpoint_features},
                    vkdrop::fuzz::checkpoint_config(false)};
  vkdrop::Model adam{context, vkdrop::fuzz::checkpoint_net(), {vkdrop::fuzz::k_checkpoint_features},
                     vkdrop::fuzz::checkpoint_config(true)};
};

Models& models() {
  static Models m;
  return m;
}

// Writes one part of the pair, or removes the file for an empty part.
void put(const std::string& name, std::span<const uint8_t> bytes) {
  if (!bytes.empty()) {
    vkdrop::fuzz::write_file(name, bytes);
  } else {
    std::filesystem::remove(vkdrop::fuzz::scratch_dir() / name);
  }
}

uint32_t read_u32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vkdrop::fuzz::accepted = false;
  if (size < vkdrop::fuzz::k_pair_header_bytes) return 0;
  const uint8_t flags = data[0];
  const std::span<const uint8_t> rest(data + vkdrop::fuzz::k_pair_header_bytes, size - vkdrop::fuzz::k_pair_header_bytes);
  const size_t weights_bytes = std::min<size_t>(read_u32(data + 1), rest.size());
  const size_t optim_bytes = std::min<size_t>(read_u32(data + 5), rest.size() - weights_bytes);
  put("model.safetensors", rest.subspan(0, weights_bytes));
  put("model.safetensors.optim", rest.subspan(weights_bytes, optim_bytes));
  put("model.safetensors.optim.old", rest.subspan(weights_bytes + optim_bytes));

  vkdrop::Model& model = flags & vkdrop::fuzz::k_use_adam ? models().adam : models().sgd;
  try {
    model.load(vkdrop::fuzz::scratch_dir() / "model.safetensors", !(flags & vkdrop::fuzz::k_weights_only));
    vkdrop::fuzz::accepted = true;
  } catch (const vkdrop::Error&) {
  }
  return 0;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  models();  // the device and both models first, so that no input is charged their seconds
  return 0;
}

#pragma once
// The two models fuzz_checkpoint.cpp loads checkpoints into, and make_seeds.cpp saves its valid seeds from:
// a small net with parameters, BatchNorm state and dropout, trained with SGD (one optimizer slot,
// momentum_buffer) or Adam (two, exp_avg and exp_avg_sq).

#include <vkdrop/vkdrop.hpp>

#include <cstdint>

namespace vkdrop::fuzz {

// The pair's input, the fuzz input split in three: byte 0 flags; bytes 1-4 and 5-8 the little-endian
// lengths of PATH and PATH.optim (cut to what is there); then PATH, PATH.optim, and the rest PATH.optim.old.
// A part of length 0 is a file that does not exist.
constexpr uint8_t k_use_adam = 1;        // flag: load into the Adam model, else the SGD one
constexpr uint8_t k_weights_only = 2;    // flag: Model::load(path, with_optimizer = false)
constexpr size_t k_pair_header_bytes = 9;

inline Sequential checkpoint_net() {
  return Sequential{Linear(6, 5), BatchNorm1d(5), ReLU(), Dropout(0.5), Linear(5, 3)};
}

inline TrainConfig checkpoint_config(bool adam) {
  TrainConfig config;
  config.batch_size = 4;
  config.eval_batch_size = 4;
  config.seed = 7;
  if (adam) config.optimizer = Adam{};
  return config;
}

constexpr int64_t k_checkpoint_features = 6, k_checkpoint_classes = 3;

}  // namespace vkdrop::fuzz

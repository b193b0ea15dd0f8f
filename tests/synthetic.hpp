#pragma once
// A small learnable problem for end-to-end checks that a model with some layer trains (test_model.cpp's
// problem): 16 byte features, 4 classes, the class being the position of the largest of the first four features.
#include "gpu.hpp"

#include <vkdrop/datasets/device_dataset.hpp>
#include <vkdrop/layers/sequential.hpp>
#include <vkdrop/train/model.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace vkdrop::test {

constexpr int64_t k_synthetic_features = 16, k_synthetic_classes = 4;

// `sample`: the shape each sample's 16 bytes are given (a (C, H, W) image for a Flatten in front).
inline DeviceDataset synthetic_dataset(Context& ctx, int64_t count, uint32_t seed, const std::string& name,
                                       Shape sample = {k_synthetic_features}) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> images(static_cast<size_t>(count * k_synthetic_features));  // (count, 16)
  std::vector<uint8_t> labels(static_cast<size_t>(count));                         // (count)
  for (int64_t i = 0; i < count; ++i) {
    uint8_t* row = &images[static_cast<size_t>(i * k_synthetic_features)];
    for (int64_t f = 0; f < k_synthetic_features; ++f) row[f] = static_cast<uint8_t>(rng() % 256);
    labels[static_cast<size_t>(i)] = static_cast<uint8_t>(std::max_element(row, row + k_synthetic_classes) - row);
  }
  return DeviceDataset(ctx, images, std::move(sample), labels, name);
}

struct SyntheticRun {
  double first_loss = 0, last_loss = 0;  // mean training loss of the first and of the last epoch
  double first_weight_change = 0;        // largest |change| of the first layer's weight: did gradient reach it?
};

// The configuration the synthetic runs train with: SGD with momentum 0.9, lr 0.1, batch 16.
inline TrainConfig synthetic_config() {
  TrainConfig config;
  config.batch_size = 16;
  config.eval_batch_size = 50;
  config.seed = 3;
  config.schedule.lr = 0.1;
  config.schedule.momentum = 0.9;
  return config;
}

// `epochs` epochs of synthetic_config() on 1000 samples of the synthetic problem, given `sample` shape.
inline SyntheticRun train_synthetic(const Sequential& net, int epochs, Shape sample = {k_synthetic_features}) {
  Context& ctx = context();
  const DeviceDataset data = synthetic_dataset(ctx, 1000, 1, "synthetic train", sample);
  Model model(ctx, net, sample, synthetic_config());
  const std::vector<float> before = model.state_dict().at(0).values;
  SyntheticRun run;
  for (int e = 0; e < epochs; ++e) {
    const double loss = model.train_epoch(data).loss;
    if (e == 0) run.first_loss = loss;
    run.last_loss = loss;
  }
  const std::vector<float> after = model.state_dict().at(0).values;
  for (size_t i = 0; i < before.size(); ++i)
    run.first_weight_change = std::max(run.first_weight_change, double(std::abs(after[i] - before[i])));
  return run;
}

}  // namespace vkdrop::test

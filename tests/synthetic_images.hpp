#pragma once
// tests/synthetic.hpp's learnable problem with its 16 features given a sample shape, by default (1, 4, 4): one
// channel of 4 × 4, for layers that take images (pooling, batch norm). The class is still the position of the
// largest of the first four features, i.e. of row 0 of the image.
#include "synthetic.hpp"

namespace vkdrop::test {

inline TrainConfig synthetic_images_config() {
  TrainConfig config;
  config.batch_size = 16;
  config.eval_batch_size = 50;
  config.seed = 3;
  config.schedule.lr = 0.1;
  config.schedule.momentum = 0.9;
  return config;
}

// `epochs` epochs of SGD with momentum (batch 16, lr 0.1) on 1000 samples of shape `sample`, as train_synthetic.
inline SyntheticRun train_synthetic_images(const Sequential& net, int epochs, Shape sample = {1, 4, 4}) {
  Context& ctx = context();
  const DeviceDataset data = synthetic_dataset(ctx, 1000, 1, "synthetic images", sample);
  Model model(ctx, net, sample, synthetic_images_config());
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

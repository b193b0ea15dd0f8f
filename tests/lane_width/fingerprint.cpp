// lane_width_fingerprint: trains three small models for a few steps and prints a fingerprint (FNV-1a of the
// bits) of every parameter, buffer and prediction. run.cmake runs it at each lavapipe vector width (4, 8, 16
// lanes) and requires the same lines from all three: the subgroup size may change the speed, never a result.
// That is what lets ./vkdrop.sh choose 16 lanes on AVX-512 CPUs.
//
// The models cover every kernel a training step and inference use, with shapes that span several workgroups
// and subgroups: the dropout MLP with a max-norm that caps rows (matmuls with K = 784, the thin classifier,
// ReLU + Dropout folded, SGD + max-norm), the sample's CNN in small (Conv2d direct and through im2col, BatchNorm2d + ReLU +
// Dropout2d folded, MaxPool2d) and a net with a strided conv, AvgPool2d, BatchNorm1d and AdamW.
#include <vkdrop/datasets/device_dataset.hpp>
#include <vkdrop/layers/avg_pool2d.hpp>
#include <vkdrop/layers/batch_norm1d.hpp>
#include <vkdrop/layers/batch_norm2d.hpp>
#include <vkdrop/layers/conv2d.hpp>
#include <vkdrop/layers/dropout.hpp>
#include <vkdrop/layers/flatten.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/max_pool2d.hpp>
#include <vkdrop/layers/relu.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/train/adam.hpp>
#include <vkdrop/train/model.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace {

using namespace vkdrop;

constexpr int64_t k_classes = 10, k_train = 128, k_predict = 40;
const Shape k_image{1, 28, 28};

uint64_t fnv1a(std::span<const float> values) {
  uint64_t h = 14695981039346656037ull;
  for (const float v : values) {
    uint32_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    for (int b = 0; b < 4; ++b) {
      h ^= (bits >> (8 * b)) & 0xffu;
      h *= 1099511628211ull;
    }
  }
  return h;
}

// Random 28 x 28 images with random labels: only the bits matter here, not what is learnt.
DeviceDataset random_images(Context& ctx) {
  std::mt19937 rng(5);
  std::vector<uint8_t> images(static_cast<size_t>(k_train * element_count(k_image)));
  std::vector<uint8_t> labels(static_cast<size_t>(k_train));
  for (uint8_t& v : images) v = static_cast<uint8_t>(rng() % 256);
  for (uint8_t& v : labels) v = static_cast<uint8_t>(rng() % k_classes);
  return DeviceDataset(ctx, images, k_image, labels, "random images");
}

void fingerprint(Context& ctx, const DeviceDataset& data, const std::string& what, const Sequential& net,
                 TrainConfig config) {
  config.batch_size = 32;  // four steps an epoch
  config.eval_batch_size = 16;
  config.seed = 9;
  config.schedule.lr = 0.05;
  config.schedule.momentum = 0.9;
  Model model(ctx, net, k_image, std::move(config));
  model.train_epoch(data);
  model.train_epoch(data);
  for (const NamedTensor& t : model.state_dict()) fmt::print("{} {} {:016x}\n", what, t.name, fnv1a(t.values));
  std::vector<float> inputs(static_cast<size_t>(k_predict * element_count(k_image)));
  std::mt19937 rng(7);
  for (float& v : inputs) v = static_cast<float>(rng() % 256) / 255.0f;
  fmt::print("{} eval-predictions {:016x}\n", what, fnv1a(model.predict(inputs, k_predict)));
  fmt::print("{} mc-predictions {:016x}\n", what, fnv1a(model.predict_mc(inputs, k_predict, 3)));
}

}  // namespace

int main() {
  try {
    Context ctx;
    fmt::print("device {} subgroup {}\n", ctx.info().name, ctx.info().subgroup_size);
    const DeviceDataset data = random_images(ctx);
    TrainConfig sgd;
    sgd.max_norm = 0.3;  // small enough that the cap scales rows: the order of their squares matters
    fingerprint(ctx, data, "mlp",
                Sequential{Flatten(), Dropout(0.2), Linear(784, 256), ReLU(), Dropout(0.5), Linear(256, 96), ReLU(),
                           Dropout(0.5), Linear(96, k_classes)},
                sgd);
    fingerprint(ctx, data, "cnn",
                Sequential{Conv2d(1, 8, 3, 1, 1), BatchNorm2d(8), ReLU(), Dropout2d(0.1), MaxPool2d(2),
                           Conv2d(8, 16, 3, 1, 1), BatchNorm2d(16), ReLU(), Dropout2d(0.1), MaxPool2d(2), Flatten(),
                           Linear(16 * 7 * 7, 64), ReLU(), Dropout(0.5), Linear(64, k_classes)},
                sgd);
    TrainConfig adamw;
    adamw.optimizer = Adam(0.9, 0.999, 1e-8, 0.01, /*decoupled=*/true);
    fingerprint(ctx, data, "adamw",
                Sequential{Conv2d(1, 4, 5, 2, 2), AvgPool2d(2), Flatten(), Linear(4 * 7 * 7, 32), BatchNorm1d(32),
                           ReLU(), Dropout(0.3), Linear(32, k_classes)},
                adamw);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "lane_width_fingerprint: {}\n", e.what());
    return 1;
  }
}

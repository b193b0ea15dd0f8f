// Fused epilogues (layers/layer.hpp, Epilogue): a Model folds a ReLU after a BatchNorm, and a Dropout2d after
// that ReLU, into the BatchNorm's passes, and a Dropout into the ReLU before it. The fused model must compute exactly what the same model with every
// layer in its own passes does (TrainConfig::fuse_epilogues = false): the same weights and running statistics
// after training steps, the same eval and Monte Carlo predictions, bit for bit; and it must record fewer passes.
#include "gpu.hpp"
#include "synthetic.hpp"

#include <vkdrop/datasets/device_dataset.hpp>
#include <vkdrop/layers/batch_norm1d.hpp>
#include <vkdrop/layers/batch_norm2d.hpp>
#include <vkdrop/layers/conv2d.hpp>
#include <vkdrop/layers/dropout.hpp>
#include <vkdrop/layers/flatten.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/max_pool2d.hpp>
#include <vkdrop/layers/relu.hpp>
#include <vkdrop/train/model.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <random>

using namespace vkdrop;

namespace {

constexpr int64_t k_classes = 3;

// Random images of `sample` shape with random labels: only the bits matter here, not what is learnt.
DeviceDataset random_images(Context& ctx, const Shape& sample, int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> images(static_cast<size_t>(count * element_count(sample)));
  std::vector<uint8_t> labels(static_cast<size_t>(count));
  for (uint8_t& v : images) v = static_cast<uint8_t>(rng() % 256);
  for (uint8_t& v : labels) v = static_cast<uint8_t>(rng() % k_classes);
  return DeviceDataset(ctx, images, sample, labels, "random images");
}

// synthetic_config()'s SGD with momentum, in batches of 8 (five steps an epoch here), max-norm on.
TrainConfig config(bool fuse, bool profile = false) {
  TrainConfig c = test::synthetic_config();
  c.batch_size = 8;
  c.eval_batch_size = 12;
  c.max_norm = 2.0;
  c.fuse_epilogues = fuse;
  c.profile = profile;
  return c;
}

int count_exact(const std::vector<DispatchTiming>& timings, const std::string& label) {
  return static_cast<int>(std::count_if(timings.begin(), timings.end(),
                                        [&](const DispatchTiming& t) { return t.label == label; }));
}

int count_labels(const std::vector<DispatchTiming>& timings, const std::string& text) {
  return static_cast<int>(std::count_if(timings.begin(), timings.end(), [&](const DispatchTiming& t) {
    return t.label.find(text) != std::string::npos;
  }));
}

}  // namespace

TEST_CASE("a ReLU and a Dropout2d folded into a BatchNorm, a Dropout into a ReLU: the bits of the separate passes") {
  Context& ctx = test::context();
  struct Case {
    std::string what;
    Sequential net;
    Shape sample;
    int relus_folded, dropouts_folded, element_dropouts_folded = 0;
  };
  // Planes of 64 values (a multiple of 4, as wide as lavapipe's workgroup), of 81 (not a multiple of 4), of 15
  // (shorter than a workgroup), and BatchNorm1d's single values: each path of the three BatchNorm shaders.
  const std::vector<Case> cases = {
      {"Conv2d-BatchNorm2d-ReLU-Dropout2d-MaxPool2d, 8 x 8",
       Sequential{Conv2d(2, 4, 3, 1, 1), BatchNorm2d(4), ReLU(), Dropout2d(0.3), MaxPool2d(2), Flatten(),
                  Linear(64, k_classes)},
       {2, 8, 8}, 1, 1},
      {"BatchNorm2d-ReLU, then BatchNorm2d-ReLU-Dropout2d (vanilla scaling), 9 x 9",
       Sequential{BatchNorm2d(3), ReLU(), Conv2d(3, 3, 3, 1, 1), BatchNorm2d(3), ReLU(),
                  Dropout2d(0.5, DropoutScaling::Vanilla), Flatten(), Linear(243, k_classes)},
       {3, 9, 9}, 2, 1},
      {"BatchNorm2d-ReLU-Dropout2d, 3 x 5",
       Sequential{Conv2d(1, 2, 1), BatchNorm2d(2), ReLU(), Dropout2d(0.4), Flatten(), Linear(30, k_classes)},
       {1, 3, 5}, 1, 1},
      {"Linear-BatchNorm1d-ReLU-Dropout (element-wise dropout stays apart)",
       Sequential{Flatten(), Linear(12, 16), BatchNorm1d(16), ReLU(), Dropout(0.5), Linear(16, k_classes)},
       {1, 3, 4}, 1, 0},
      {"BatchNorm2d-Dropout2d-ReLU (dropout before the ReLU: nothing folds)",
       Sequential{Conv2d(1, 2, 3), BatchNorm2d(2), Dropout2d(0.3), ReLU(), Flatten(), Linear(18, k_classes)},
       {1, 5, 5}, 0, 0},
      {"Dropout-Linear-ReLU-Dropout-Linear-ReLU-Dropout (vanilla)-Linear: the dropout MLP; the input dropout stays",
       Sequential{Flatten(), Dropout(0.2), Linear(12, 16), ReLU(), Dropout(0.5), Linear(16, 15), ReLU(),
                  Dropout(0.4, DropoutScaling::Vanilla), Linear(15, k_classes)},
       {1, 3, 4}, 0, 0, 2},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    const DeviceDataset data = random_images(ctx, c.sample, 40, 11);
    Model fused(ctx, c.net, c.sample, config(true, /*profile=*/true));
    Model apart(ctx, c.net, c.sample, config(false, /*profile=*/true));
    fused.train_epoch(data);  // 5 steps, the last batch of 8 complete
    apart.train_epoch(data);
    // The passes each fold removes, each way: a folded ReLU's own (and a ReLU's own where a Dropout is folded
    // into it), a folded Dropout2d's and Dropout's; and the fused passes that do their work instead.
    const auto fused_timings = fused.step_timings(), apart_timings = apart.step_timings();
    const auto gone = [&](const std::string& label) {
      return count_exact(apart_timings, label) - count_exact(fused_timings, label);
    };
    for (const std::string pass : {"forward", "backward"}) {
      INFO(pass);
      CHECK(gone("relu " + pass) == c.relus_folded + c.element_dropouts_folded);
      CHECK(gone("dropout2d " + pass) == c.dropouts_folded);
      CHECK(gone("dropout " + pass) == c.element_dropouts_folded);
      CHECK(count_exact(fused_timings, "relu + dropout " + pass) == c.element_dropouts_folded);
    }
    CHECK(count_labels(fused_timings, "normalize + relu") == c.relus_folded);
    CHECK(count_labels(fused_timings, "+ relu + dropout2d") == c.dropouts_folded);
    CHECK(count_labels(fused_timings, "sums (through relu") == c.relus_folded);
    // Weights, gradients' effect through the optimizer, running statistics: bit for bit.
    const auto a = fused.state_dict(), b = apart.state_dict();
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      INFO(a[i].name);
      CHECK(a[i].values == b[i].values);
    }
    // Eval (running statistics) and Monte Carlo predictions (dropout on) alike.
    std::vector<float> inputs(static_cast<size_t>(20 * element_count(c.sample)));
    std::mt19937 rng(7);
    for (float& v : inputs) v = static_cast<float>(rng() % 1000) / 500.0f - 1.0f;
    CHECK(fused.predict(inputs, 20) == apart.predict(inputs, 20));
    fused.train();
    apart.train();
    CHECK(fused.predict(inputs, 20) == apart.predict(inputs, 20));
    // The model still learns through the fused passes: the folded layers' gradients are not zero.
    CHECK(a[0].values != Model(ctx, c.net, c.sample, config(true)).state_dict()[0].values);
  }
}

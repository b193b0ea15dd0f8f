// Fused epilogues (layers/layer.hpp, Epilogue): a Model folds a ReLU after a BatchNorm, and a Dropout2d after
// that ReLU, into the BatchNorm's passes; a ReLU after a Linear, and a Dropout after that ReLU, into the Linear's
// product (and their backward into the next Linear's dx product); and a Dropout into a ReLU before it elsewhere.
// The fused model must compute exactly what the same model with every layer in its own passes does
// (TrainConfig::fuse_epilogues = false): the same weights and running statistics after training steps, the same
// eval and Monte Carlo predictions, bit for bit; and it must record fewer passes.
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
#include <vkdrop/ops/batch_norm.hpp>
#include <vkdrop/ops/dropout.hpp>
#include <vkdrop/runtime/error.hpp>
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

TEST_CASE("a ReLU and a Dropout2d folded into a BatchNorm, a ReLU and a Dropout into a Linear: the bits of the separate passes") {
  Context& ctx = test::context();
  struct Case {
    std::string what;
    Sequential net;
    Shape sample;
    int relus_folded, dropouts_folded;  // into a BatchNorm
    int element_dropouts_folded = 0;    // into a ReLU layer (relu + dropout passes)
    int linear_relus = 0;               // ReLUs folded into a Linear's product
    int linear_dropouts = 0;            // of those, with a Dropout after them folded too
    int gates = 0;     // of those, whose backward runs in the next Linear's dx product
    int in_place = 0;  // the others: the Linear's own backward pass over its gradient
  };
  // Planes of 64 values (a multiple of 4, as wide as lavapipe's workgroup), of 144 (36 quads: on a CPU device a
  // workgroup of 36), of 81 (not a multiple of 4), of 15 (shorter than a workgroup), and BatchNorm1d's single
  // values: each path of the three BatchNorm shaders.
  const std::vector<Case> cases = {
      {"Conv2d-BatchNorm2d-ReLU-Dropout2d-MaxPool2d, 8 x 8",
       Sequential{Conv2d(2, 4, 3, 1, 1), BatchNorm2d(4), ReLU(), Dropout2d(0.3), MaxPool2d(2), Flatten(),
                  Linear(64, k_classes)},
       {2, 8, 8}, 1, 1},
      {"Conv2d-BatchNorm2d-ReLU-Dropout2d-MaxPool2d, 12 x 12",
       Sequential{Conv2d(1, 3, 3, 1, 1), BatchNorm2d(3), ReLU(), Dropout2d(0.3), MaxPool2d(2), Flatten(),
                  Linear(108, k_classes)},
       {1, 12, 12}, 1, 1},
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
      {"Linear-ReLU-Linear-ReLU-Linear: ReLUs alone into the products, their backward into the next dx product",
       Sequential{Flatten(), Linear(12, 16), ReLU(), Linear(16, 8), ReLU(), Linear(8, k_classes)},
       {1, 3, 4}, 0, 0, 0, 2, 0, 2, 0},
      {"Linear-ReLU-Dropout-BatchNorm1d-Linear: no Linear after the epilogue, so its backward is the Linear's own pass",
       Sequential{Flatten(), Linear(12, 16), ReLU(), Dropout(0.5), BatchNorm1d(16), Linear(16, k_classes)},
       {1, 3, 4}, 0, 0, 0, 1, 1, 0, 1},
      {"BatchNorm2d-Dropout2d-ReLU (dropout before the ReLU: nothing folds)",
       Sequential{Conv2d(1, 2, 3), BatchNorm2d(2), Dropout2d(0.3), ReLU(), Flatten(), Linear(18, k_classes)},
       {1, 5, 5}, 0, 0},
      {"Dropout-Linear-ReLU-Dropout-Linear-ReLU-Dropout (vanilla)-Linear: the dropout MLP; the input dropout stays",
       Sequential{Flatten(), Dropout(0.2), Linear(12, 16), ReLU(), Dropout(0.5), Linear(16, 15), ReLU(),
                  Dropout(0.4, DropoutScaling::Vanilla), Linear(15, k_classes)},
       {1, 3, 4}, 0, 0, 0, 2, 2, 2, 0},
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
      CHECK(gone("relu " + pass) == c.relus_folded + c.element_dropouts_folded + c.linear_relus);
      CHECK(gone("dropout2d " + pass) == c.dropouts_folded);
      CHECK(gone("dropout " + pass) == c.element_dropouts_folded + c.linear_dropouts);
    }
    CHECK(count_exact(fused_timings, "relu + dropout forward") == c.element_dropouts_folded);
    CHECK(count_exact(fused_timings, "relu + dropout backward") == c.element_dropouts_folded + c.in_place);
    CHECK(count_labels(fused_timings, " bT + relu") == c.linear_relus);  // Linear's forward product: y = x·Wᵀ
    CHECK(count_labels(fused_timings, " bT + relu + dropout") == c.linear_dropouts);
    CHECK(count_labels(fused_timings, ", through relu") == c.gates);
    CHECK(c.gates + c.in_place == c.linear_relus);
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

TEST_CASE("fused ops refuse an epilogue they cannot apply, naming what is missing") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 20);
  const Shape shape{2, 3, 4, 4};
  Tensor x = make_tensor(arena, shape, DType::f32, "x"), y = make_tensor(arena, shape, DType::f32, "y");
  Tensor dx = make_tensor(arena, shape, DType::f32, "dx"), dy = make_tensor(arena, shape, DType::f32, "dy");
  Tensor flat = make_tensor(arena, {2, 3}, DType::f32, "flat"), flat_y = make_tensor(arena, {2, 3}, DType::f32, "flat_y");
  std::vector<Tensor> c;  // per channel: weight, bias, mean, invstd / variance, and two gradients
  for (int i = 0; i < 6; ++i) c.push_back(make_tensor(arena, {3}, DType::f32, fmt::format("c{}", i)));
  Tensor step = make_tensor(arena, {2}, DType::u32, "step"), wrong_step = make_tensor(arena, {3}, DType::u32, "s3");
  const ops::DropoutConfig drop{0.5, DropoutScaling::Inverted, 1, 2};
  Recorder rec(ctx);
  using Catch::Matchers::Contains;
  const auto eval = [&](const Tensor& out, const Tensor& in, const ops::BatchNormEpilogue& e) {
    ops::batch_norm_forward_eval(rec, out, in, c[2], c[3], c[0], c[1], 1e-5f, e);
  };
  CHECK_THROWS_WITH(eval(y, x, {.relu = false, .dropout2d = drop, .step = &step}),
                    Contains("a Dropout2d epilogue needs the ReLU before it"));
  CHECK_THROWS_WITH(eval(y, x, {.relu = true, .dropout2d = drop, .step = nullptr}), Contains("needs the step"));
  CHECK_THROWS_AS(eval(y, x, {.relu = true, .dropout2d = drop, .step = &wrong_step}), ShapeError);
  CHECK_THROWS_AS(eval(flat_y, flat, {.relu = true, .dropout2d = drop, .step = &step}), ShapeError);  // not (N, C, ...)
  CHECK_THROWS_AS(eval(y, x, {.relu = true, .dropout2d = ops::DropoutConfig{1.5}, .step = &step}), ArgumentError);
  CHECK_THROWS_WITH(ops::batch_norm_backward(rec, dx, c[4], c[5], dy, x, c[0], c[2], c[3], {.relu = true}, nullptr),
                    Contains("needs the forward's output"));
  CHECK_THROWS_AS(ops::batch_norm_backward(rec, dx, c[4], c[5], dy, x, c[0], c[2], c[3], {.relu = true}, &dx),
                  ArgumentError);  // the output may not be what backward writes
  CHECK_THROWS_AS(ops::relu_dropout_forward(rec, y, x, ops::DropoutConfig{-0.1}, true, step), ArgumentError);
  CHECK_THROWS_AS(ops::relu_dropout_forward(rec, flat_y, x, drop, true, step), ShapeError);
  CHECK(rec.dispatch_count() == 0);  // nothing recorded by a refused call
}

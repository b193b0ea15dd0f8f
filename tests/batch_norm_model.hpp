#pragma once
// A Model whose first computing layer is a BatchNorm (only views before it), followed by Linear(16, 4) on the
// flattened result, checked against reference/batch_norm.hpp through training, eval and a checkpoint. Shared
// by test_batch_norm2d.cpp and test_batch_norm1d.cpp.
//
// The BatchNorm sees the data itself, so its running statistics after an epoch depend on the data and the
// epoch's order alone, not on the training: the reference replays the epoch's batches (ref::epoch_order) in
// double. 20 steps, each within a few float roundings of |x| <= 1 per statistic, stay below atol 1e-6 +
// rtol 1e-5. Eval: predict() against BatchNorm (eval) and Linear and softmax in double, on the model's own
// state_dict; the float forward is a few roundings per value and a 16-term dot product of values below about 5:
// probabilities within 1e-5.
#include "gpu.hpp"
#include "synthetic_images.hpp"
#include "temp_dir.hpp"

#include <vkdrop/datasets/device_dataset.hpp>
#include <vkdrop/reference/batch_norm.hpp>
#include <vkdrop/reference/epoch_order.hpp>
#include <vkdrop/reference/linear.hpp>
#include <vkdrop/reference/softmax_xent.hpp>
#include <vkdrop/train/model.hpp>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace vkdrop::test {

inline const NamedTensor& named(const std::vector<NamedTensor>& tensors, const std::string& name) {
  for (const NamedTensor& t : tensors) {
    if (t.name == name) return t;
  }
  FAIL("no tensor " << name);
  return tensors.front();
}

// Class probabilities of `net`'s reference for inputs x (n, 16) given as (n, C, L) to the BatchNorm: the eval
// forward with the running statistics, or (batch_statistics) the training forward with the batch's own.
inline std::vector<float> batch_norm_linear_reference(const std::vector<NamedTensor>& sd, const std::string& bn,
                                                      const std::string& linear, const std::vector<float>& x, int64_t n,
                                                      int64_t channels, float eps, bool batch_statistics) {
  const int64_t features = 16, classes = 4, L = features / channels;
  auto values = [&](const std::string& name) {
    const std::vector<float>& v = named(sd, name).values;
    return std::vector<double>(v.begin(), v.end());
  };
  const std::vector<double> xd(x.begin(), x.end()), w = values(bn + ".weight"), b = values(bn + ".bias");
  std::vector<double> rm = values(bn + ".running_mean"), rv = values(bn + ".running_var");
  const size_t C = static_cast<size_t>(channels);
  std::vector<double> normalized(xd.size()), save_mean(C), save_invstd(C), logits(static_cast<size_t>(n * classes));
  double tracked = 0;
  if (batch_statistics) {
    ref::batch_norm_forward_training(normalized.data(), save_mean.data(), save_invstd.data(), rm.data(), rv.data(), &tracked,
                                     xd.data(), w.data(), b.data(), n, channels, L, double(eps), 0.0);
  } else {
    ref::batch_norm_forward_eval(normalized.data(), xd.data(), rm.data(), rv.data(), w.data(), b.data(), n, channels, L,
                                 double(eps));
  }
  const std::vector<double> lw = values(linear + ".weight"), lb = values(linear + ".bias");
  ref::linear_forward(logits.data(), normalized.data(), lw.data(), lb.data(), int(n), int(features), int(classes));
  std::vector<float> probs(logits.size());
  for (int64_t row = 0; row < n; ++row) {
    const double lse = ref::log_sum_exp(&logits[size_t(row * classes)], int(classes));
    for (int64_t j = 0; j < classes; ++j) {
      const size_t k = size_t(row * classes + j);
      probs[k] = float(std::exp(logits[k] - lse));
    }
  }
  return probs;
}

// `net`: views, then the BatchNorm at index `bn` over the sample seen as (channels, 16 / channels), then (a Flatten
// and) Linear(16, 4) at index `linear`. `sample` has 16 elements.
inline void check_batch_norm_model(const Sequential& net, const Shape& sample, int64_t channels, size_t bn_index,
                                   size_t linear_index) {
  Context& ctx = context();
  constexpr int64_t count = 320, features = 16, batch = 16, steps = count / batch;
  const int64_t L = features / channels;
  const float eps = 1e-5f, momentum = 0.1f;  // the defaults, as the GPU gets them
  const std::string bn = std::to_string(bn_index), linear = std::to_string(linear_index);
  std::mt19937 rng(11);
  std::vector<uint8_t> images(static_cast<size_t>(count * features)), labels(static_cast<size_t>(count));
  for (auto& v : images) v = static_cast<uint8_t>(rng() % 256);
  for (auto& v : labels) v = static_cast<uint8_t>(rng() % 4);
  const DeviceDataset data(ctx, images, sample, labels, "batch norm data");
  const TrainConfig config = synthetic_images_config();
  REQUIRE(config.batch_size == batch);

  Model model(ctx, net, sample, config);
  const std::vector<NamedTensor> initial = model.state_dict();
  CHECK(named(initial, bn + ".weight").values == std::vector<float>(size_t(channels), 1.0f));
  CHECK(named(initial, bn + ".bias").values == std::vector<float>(size_t(channels), 0.0f));
  CHECK(named(initial, bn + ".running_mean").values == std::vector<float>(size_t(channels), 0.0f));
  CHECK(named(initial, bn + ".running_var").values == std::vector<float>(size_t(channels), 1.0f));
  CHECK(named(initial, bn + ".num_batches_tracked").values == std::vector<float>{0.0f});
  model.train_epoch(data);
  const std::vector<NamedTensor> sd = model.state_dict();

  // PyTorch's state_dict names, order and shapes: parameters, then running_mean, running_var and the 0-d counter.
  std::vector<std::string> names;
  for (const NamedTensor& t : sd) names.push_back(t.name);
  const std::vector<std::string> want_names = {bn + ".weight", bn + ".bias", bn + ".running_mean", bn + ".running_var",
                                               bn + ".num_batches_tracked", linear + ".weight", linear + ".bias"};
  CHECK(names == want_names);
  CHECK(named(sd, bn + ".running_var").shape == Shape{channels});
  CHECK(named(sd, bn + ".num_batches_tracked").shape == Shape{});
  CHECK(named(sd, bn + ".num_batches_tracked").values == std::vector<float>{float(steps)});

  // The running statistics of the epoch, against the reference replaying its batches.
  {
    const std::vector<uint32_t> order = ref::epoch_order(count, config.seed, 0);
    const size_t C = static_cast<size_t>(channels);
    std::vector<double> rm(C, 0.0), rv(C, 1.0), ones(C, 1.0), zeros(C, 0.0), save_mean(C), save_invstd(C);
    std::vector<double> x(static_cast<size_t>(batch * features)), y(x.size());
    double tracked = 0;
    for (int64_t step = 0; step < steps; ++step) {
      for (int64_t r = 0; r < batch; ++r) {
        const uint32_t s = order[size_t(step * batch + r)];
        for (int64_t f = 0; f < features; ++f) {
          x[size_t(r * features + f)] = double(float(images[size_t(s * features + f)]) * data.scale());  // as gathered
        }
      }
      ref::batch_norm_forward_training(y.data(), save_mean.data(), save_invstd.data(), rm.data(), rv.data(), &tracked,
                                       x.data(), ones.data(), zeros.data(), batch, channels, L, double(eps),
                                       double(momentum));
    }
    CHECK(tracked == double(steps));
    expect_close(named(sd, bn + ".running_mean").values, std::vector<float>(rm.begin(), rm.end()), 1e-6, 1e-5,
                 "running_mean after an epoch");
    expect_close(named(sd, bn + ".running_var").values, std::vector<float>(rv.begin(), rv.end()), 1e-6, 1e-5,
                 "running_var after an epoch");
  }

  // Eval: predict() normalises with the running statistics, not with the batch's own.
  constexpr int64_t n = 37;  // under one eval batch of 50: the padded rows must not matter in eval
  const std::vector<float> inputs = random_floats(size_t(n * features), 12, 0.0f, 1.0f);
  const std::vector<float> probs = model.predict(inputs, n);
  const std::vector<float> want = batch_norm_linear_reference(sd, bn, linear, inputs, n, channels, eps, false);
  expect_close(probs, want, 1e-5, 0, "predict() in eval against the reference eval forward");
  const std::vector<float> batch_stats = batch_norm_linear_reference(sd, bn, linear, inputs, n, channels, eps, true);
  double apart = 0;
  for (size_t i = 0; i < want.size(); ++i) apart = std::max(apart, double(std::abs(want[i] - batch_stats[i])));
  CHECK(apart > 1e-3);  // so the comparison above tells the two modes apart
  const Metrics m = model.evaluate(data);
  CHECK(m.samples == count);
  CHECK(std::isfinite(m.loss));

  // A checkpoint keeps the running statistics and the counter: the restored model predicts the same bits, and an
  // epoch more of both gives the same bits (num_batches_tracked 2 · steps).
  // In a directory of this process's own: the lane-width variants of this test run side by side under ctest -j.
  const auto path = temp_dir("vkdrop-test-batch-norm") / (bn + "-" + linear + ".safetensors");
  model.save(path);
  const SafetensorsFile file = read_safetensors(path);
  const NamedTensor* saved = file.find(bn + ".num_batches_tracked");
  REQUIRE(saved != nullptr);
  CHECK(saved->shape == Shape{});
  CHECK(saved->values == std::vector<float>{float(steps)});
  Model restored(ctx, net, sample, config);
  restored.load(path);
  const std::vector<NamedTensor> back = restored.state_dict();
  REQUIRE(back.size() == sd.size());
  for (size_t i = 0; i < sd.size(); ++i) {
    INFO(sd[i].name);
    CHECK(back[i].values == sd[i].values);
  }
  CHECK(restored.predict(inputs, n) == probs);
  model.train_epoch(data);
  restored.train_epoch(data);
  const std::vector<NamedTensor> a = model.state_dict(), b = restored.state_dict();
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].name);
    CHECK(a[i].values == b[i].values);
  }
  CHECK(named(b, bn + ".num_batches_tracked").values == std::vector<float>{float(2 * steps)});
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + ".optim");
}

}  // namespace vkdrop::test

// A whole training step of a Model against a CPU step built from reference/: the batch order, input
// dropout, Linear, ReLU, hidden dropout, softmax cross-entropy, every gradient, the optimizer (SGD with
// momentum, and Adam) and the max-norm constraint. Two steps, so that momentum and Adam's moments carry
// over from the first, and the second draws new masks. The same for a small CNN: Conv2d, BatchNorm2d (batch
// statistics, running statistics, the batch counter), ReLU, Dropout2d, MaxPool2d, Flatten, Linear, with
// max-norm capping each conv filter.
//
// The reference runs in double on the model's initial float weights; the GPU runs in float. With at most
// 288 terms per sum and two updates, the float rounding stays near 1e-6 relative; the tolerance
// atol 2e-5 + rtol 2e-4 on the weights is far below what any wrong term (a mask, a factor of the learning
// rate, a skipped cap) changes: those move weights by 1e-3 and more.
#include "gpu.hpp"

#include <vkdrop/datasets/device_dataset.hpp>
#include <vkdrop/layers/batch_norm2d.hpp>
#include <vkdrop/layers/conv2d.hpp>
#include <vkdrop/layers/dropout.hpp>
#include <vkdrop/layers/flatten.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/max_pool2d.hpp>
#include <vkdrop/layers/relu.hpp>
#include <vkdrop/reference/batch_norm.hpp>
#include <vkdrop/reference/conv2d.hpp>
#include <vkdrop/reference/dropout.hpp>
#include <vkdrop/reference/dropout2d.hpp>
#include <vkdrop/reference/epoch_order.hpp>
#include <vkdrop/reference/linear.hpp>
#include <vkdrop/reference/max_pool2d.hpp>
#include <vkdrop/reference/optimizers.hpp>
#include <vkdrop/reference/relu.hpp>
#include <vkdrop/reference/schedule.hpp>
#include <vkdrop/reference/softmax_xent.hpp>
#include <vkdrop/train/model.hpp>

#include <map>

using namespace vkdrop;

namespace {

constexpr int k_in = 13, k_hidden = 17, k_classes = 5, k_batch = 8, k_steps = 2;
constexpr double k_p_in = 0.2, k_p_hidden = 0.5, k_max_norm = 0.5;
constexpr uint64_t k_seed = 11;

using Vec = std::vector<double>;
using Weights = std::map<std::string, Vec>;  // by state_dict name

Sequential mlp() {
  return Sequential{Dropout(k_p_in), Linear(k_in, k_hidden), ReLU(), Dropout(k_p_hidden), Linear(k_hidden, k_classes)};
}

// The CNN: (1, 6, 6) images -> Conv 3x3 pad 1 -> (3, 6, 6) -> BatchNorm2d, ReLU, Dropout2d -> MaxPool 2 ->
// (3, 3, 3) -> Flatten -> Linear(27 -> 5). The conv has no bias, as convs before BatchNorm usually do: the
// batch mean removes it, so its gradient is zero up to rounding, and Adam, which divides a gradient by its
// own magnitude, would turn the GPU's and the reference's different rounding noise into different steps.
constexpr int k_side = 6, k_channels = 3, k_pooled = k_side / 2, k_flat = k_channels * k_pooled * k_pooled;
constexpr double k_p_channel = 0.25;
const Conv2dGeometry k_conv{3, 1, 1};

Sequential cnn() {
  return Sequential{Conv2d(1, k_channels, 3, 1, 1, 1, /*bias=*/false),
                    BatchNorm2d(k_channels),
                    ReLU(),
                    Dropout2d(k_p_channel),
                    MaxPool2d(2),
                    Flatten(),
                    Linear(k_flat, k_classes)};
}

struct Data {
  int sample_size;  // bytes per image
  std::vector<uint8_t> images, labels;
};

Data make_data(int sample_size) {
  std::mt19937 rng(5);
  Data d{sample_size, std::vector<uint8_t>(size_t(k_batch * k_steps * sample_size)), std::vector<uint8_t>(k_batch * k_steps)};
  for (auto& b : d.images) b = static_cast<uint8_t>(rng() % 256);
  for (auto& l : d.labels) l = static_cast<uint8_t>(rng() % k_classes);
  return d;
}

Vec to_double(const std::vector<float>& v) { return Vec(v.begin(), v.end()); }

// The optimizer the reference applies to one parameter, with its state.
struct ReferenceOptimizer {
  bool adam = false;
  std::map<std::string, Vec> m, v;  // momentum buffer (SGD: m) or Adam's moments, per parameter
  void step(const std::string& name, Vec& w, const Vec& g, const Schedule& s, uint64_t step) {
    Vec& m1 = m.try_emplace(name, Vec(w.size(), 0.0)).first->second;
    Vec& m2 = v.try_emplace(name, Vec(w.size(), 0.0)).first->second;
    const int n = static_cast<int>(w.size());
    if (adam) {
      ref::adam_step(w.data(), g.data(), m1.data(), m2.data(), n, ref::scheduled_lr(s, step), 0.9, 0.999, 1e-8, 0.0,
                     static_cast<int>(step + 1), false);
    } else {
      ref::sgd_step(w.data(), g.data(), m1.data(), n, ref::scheduled_lr(s, step), ref::scheduled_momentum(s, step),
                    0.0, false);
    }
  }
};

// One training batch as the device gathers it: x = bytes / 255 in float, in the epoch's shuffled order.
struct Batch {
  Vec x;  // (k_batch, sample)
  std::vector<int32_t> labels;
};

Batch gather(const Data& data, uint64_t step) {
  const auto order = ref::epoch_order(k_batch * k_steps, k_seed, 0);
  const int size = data.sample_size;
  Batch b{Vec(size_t(k_batch * size)), std::vector<int32_t>(k_batch)};
  for (int r = 0; r < k_batch; ++r) {
    const uint32_t s = order[step * k_batch + static_cast<uint64_t>(r)];
    for (int f = 0; f < size; ++f) b.x[size_t(r * size + f)] = double(float(data.images[s * size + uint32_t(f)]) * (1.0f / 255.0f));
    b.labels[static_cast<size_t>(r)] = data.labels[s];
  }
  return b;
}

// The update of every parameter, then the max-norm cap of each listed weight (name, rows, columns): each
// row (a Linear unit's or a conv filter's incoming weights) scaled to norm k_max_norm if above it.
void update_and_cap(Weights& w, Weights& g, ReferenceOptimizer& opt, const Schedule& schedule, uint64_t step,
                    std::initializer_list<std::tuple<const char*, int, int>> capped, int& rows_capped) {
  for (auto& [name, values] : w) opt.step(name, values, g.at(name), schedule, step);
  for (const auto& [name, rows, cols] : capped) {
    Vec& weights = w.at(name);
    for (int r = 0; r < rows; ++r) {
      double sq = 0;
      for (int c = 0; c < cols; ++c) sq += weights[size_t(r * cols + c)] * weights[size_t(r * cols + c)];
      rows_capped += std::sqrt(sq) > k_max_norm ? 1 : 0;
    }
    ref::max_norm(weights.data(), rows, cols, k_max_norm);
  }
}

// Two training steps of mlp() on `data` from the weights `w`, as the Model must take them. Returns the mean
// training loss; `rows_capped` counts the rows max-norm scaled, so the test knows the cap was exercised.
double reference_mlp_steps(Weights& w, Weights& /*state: none*/, const Data& data, const Schedule& schedule,
                           ReferenceOptimizer& opt, int& rows_capped) {
  double loss_sum = 0;
  for (uint64_t step = 0; step < k_steps; ++step) {
    const auto [x, labels] = gather(data, step);
    // Forward; layer ids are the indices in the Sequential.
    Vec x0(x.size()), h(k_batch * k_hidden), a(h.size()), a_drop(h.size()), z(k_batch * k_classes);
    ref::dropout_forward(x0.data(), x.data(), int(x.size()), k_p_in, DropoutScaling::Inverted, true, k_seed, step, 0);
    ref::linear_forward(h.data(), x0.data(), w["1.weight"].data(), w["1.bias"].data(), k_batch, k_in, k_hidden);
    ref::relu_forward(a.data(), h.data(), int(h.size()));
    ref::dropout_forward(a_drop.data(), a.data(), int(a.size()), k_p_hidden, DropoutScaling::Inverted, true, k_seed,
                         step, 3);
    ref::linear_forward(z.data(), a_drop.data(), w["4.weight"].data(), w["4.bias"].data(), k_batch, k_hidden,
                        k_classes);
    loss_sum += ref::softmax_xent_forward(z.data(), labels.data(), k_batch, k_classes);
    // Backward.
    Vec dz(z.size()), da_drop(a.size()), da(a.size()), dh(h.size());
    std::map<std::string, Vec> g{{"1.weight", Vec(k_hidden * k_in)}, {"1.bias", Vec(k_hidden)},
                                 {"4.weight", Vec(k_classes * k_hidden)}, {"4.bias", Vec(k_classes)}};
    ref::softmax_xent_backward(dz.data(), z.data(), labels.data(), k_batch, k_classes);
    ref::linear_backward(da_drop.data(), g["4.weight"].data(), g["4.bias"].data(), dz.data(), a_drop.data(),
                         w["4.weight"].data(), k_batch, k_hidden, k_classes);
    ref::dropout_backward(da.data(), da_drop.data(), int(da.size()), k_p_hidden, DropoutScaling::Inverted, k_seed,
                          step, 3);
    ref::relu_backward(dh.data(), da.data(), h.data(), int(dh.size()));
    ref::linear_backward<double>(nullptr, g["1.weight"].data(), g["1.bias"].data(), dh.data(), x0.data(),
                                 w["1.weight"].data(), k_batch, k_in, k_hidden);
    update_and_cap(w, g, opt, schedule, step, {{"1.weight", k_hidden, k_in}, {"4.weight", k_classes, k_hidden}},
                   rows_capped);
  }
  return loss_sum / k_steps;
}

// Two training steps of cnn(), as reference_mlp_steps; `state` holds BatchNorm's running statistics and
// batch counter, which the steps move.
double reference_cnn_steps(Weights& w, Weights& state, const Data& data, const Schedule& schedule,
                           ReferenceOptimizer& opt, int& rows_capped) {
  constexpr int plane = k_side * k_side, features = k_channels * plane;
  const ref::Conv2dSizes sizes{k_batch, 1, k_side, k_side, k_channels, k_conv};
  const ref::Pool2dWindow pool{2, 2, 2, 2, 0, 0};
  double loss_sum = 0;
  for (uint64_t step = 0; step < k_steps; ++step) {
    const auto [x, labels] = gather(data, step);
    // Forward, layer ids as in cnn(): (B, 3, 6, 6) through the conv block, (B, 3, 3, 3) pooled, (B, 27) flat.
    Vec conv(k_batch * features), norm(conv.size()), act(conv.size()), drop(conv.size());
    Vec mean(k_channels), invstd(k_channels), pooled(k_batch * k_flat), z(k_batch * k_classes);
    std::vector<uint32_t> argmax(pooled.size());
    ref::conv2d_forward<double>(conv.data(), x.data(), w["0.weight"].data(), nullptr, sizes);
    ref::batch_norm_forward_training(norm.data(), mean.data(), invstd.data(), state["1.running_mean"].data(),
                                     state["1.running_var"].data(), state["1.num_batches_tracked"].data(), conv.data(),
                                     w["1.weight"].data(), w["1.bias"].data(), k_batch, k_channels, plane, 1e-5, 0.1);
    ref::relu_forward(act.data(), norm.data(), int(act.size()));
    ref::dropout2d_forward(drop.data(), act.data(), k_batch, k_channels, plane, k_p_channel, DropoutScaling::Inverted,
                           true, k_seed, step, 3);
    ref::max_pool2d_forward(pooled.data(), argmax.data(), drop.data(), k_batch * k_channels, k_side, k_side, pool);
    ref::linear_forward(z.data(), pooled.data(), w["6.weight"].data(), w["6.bias"].data(), k_batch, k_flat, k_classes);
    loss_sum += ref::softmax_xent_forward(z.data(), labels.data(), k_batch, k_classes);
    // Backward.
    Vec dz(z.size()), dpooled(pooled.size()), ddrop(conv.size()), dact(conv.size()), dnorm(conv.size()), dconv(conv.size());
    Weights g;
    for (const auto& [name, values] : w) g[name] = Vec(values.size());
    ref::softmax_xent_backward(dz.data(), z.data(), labels.data(), k_batch, k_classes);
    ref::linear_backward(dpooled.data(), g["6.weight"].data(), g["6.bias"].data(), dz.data(), pooled.data(),
                         w["6.weight"].data(), k_batch, k_flat, k_classes);
    ref::max_pool2d_backward(ddrop.data(), dpooled.data(), argmax.data(), k_batch * k_channels, k_side, k_side, pool);
    ref::dropout2d_backward(dact.data(), ddrop.data(), k_batch, k_channels, plane, k_p_channel, DropoutScaling::Inverted,
                            k_seed, step, 3);
    ref::relu_backward(dnorm.data(), dact.data(), norm.data(), int(dnorm.size()));
    ref::batch_norm_backward(dconv.data(), g["1.weight"].data(), g["1.bias"].data(), dnorm.data(), conv.data(),
                             w["1.weight"].data(), mean.data(), invstd.data(), k_batch, k_channels, plane);
    ref::conv2d_backward<double>(nullptr, g["0.weight"].data(), nullptr, dconv.data(), x.data(), w["0.weight"].data(),
                                 sizes);
    update_and_cap(w, g, opt, schedule, step, {{"0.weight", k_channels, 9}, {"6.weight", k_classes, k_flat}},
                   rows_capped);
  }
  return loss_sum / k_steps;
}

using ReferenceSteps = double (*)(Weights&, Weights&, const Data&, const Schedule&, ReferenceOptimizer&, int&);

// Two steps of `net` on (sample) images against `reference`. `state_names` are the state_dict entries that
// are layer state, not parameters: the reference moves them without an optimizer.
void check_two_steps(Sequential net, const Shape& sample, ReferenceSteps reference,
                     const std::vector<std::string>& state_names, AnyOptimizer optimizer, bool adam, double lr) {
  Context& ctx = test::context();
  const Data data = make_data(static_cast<int>(element_count(sample)));
  DeviceDataset train(ctx, data.images, sample, data.labels, "step data");
  TrainConfig config;
  config.batch_size = k_batch;
  config.eval_batch_size = k_batch;
  config.seed = k_seed;
  config.max_norm = k_max_norm;
  config.optimizer = std::move(optimizer);
  config.schedule.lr = lr;
  config.schedule.momentum = 0.9;
  config.schedule.momentum_start = 0.5;
  config.schedule.ramp_epochs = 1;  // momentum 0.5 at step 0, 0.7 at step 1: the schedule is under test too
  Model model(ctx, std::move(net), sample, config);

  Weights w, state;
  for (const NamedTensor& t : model.state_dict()) {
    const bool is_state = std::find(state_names.begin(), state_names.end(), t.name) != state_names.end();
    (is_state ? state : w)[t.name] = to_double(t.values);
  }
  REQUIRE(state.size() == state_names.size());
  const Metrics got = model.train_epoch(train);
  REQUIRE(model.step() == k_steps);

  Schedule schedule = config.schedule;
  schedule.steps_per_epoch = k_steps;
  ReferenceOptimizer opt{adam, {}, {}};
  int rows_capped = 0;
  const double want_loss = reference(w, state, data, schedule, opt, rows_capped);
  CHECK(rows_capped > 0);  // the cap bound: max-norm is exercised, not vacuous

  for (const NamedTensor& t : model.state_dict()) {
    const Vec& values = w.contains(t.name) ? w.at(t.name) : state.at(t.name);
    const std::vector<float> want(values.begin(), values.end());
    test::expect_close(t.values, want, 2e-5, 2e-4, fmt::format("{} after {} steps ({})", t.name, k_steps, adam ? "Adam" : "SGD"));
  }
  CHECK(got.loss == Approx(want_loss).epsilon(1e-5));
}

}  // namespace

TEST_CASE("two training steps with dropout and max-norm match the CPU reference: SGD with momentum") {
  check_two_steps(mlp(), {k_in}, reference_mlp_steps, {}, SGD{}, false, 0.5);
}

TEST_CASE("two training steps with dropout and max-norm match the CPU reference: Adam") {
  check_two_steps(mlp(), {k_in}, reference_mlp_steps, {}, Adam{}, true, 0.01);
}

TEST_CASE("two CNN training steps (Conv2d, BatchNorm2d, Dropout2d, MaxPool2d, Flatten) match the CPU reference") {
  const std::vector<std::string> batch_norm_state{"1.running_mean", "1.running_var", "1.num_batches_tracked"};
  SECTION("SGD with momentum") {
    check_two_steps(cnn(), {1, k_side, k_side}, reference_cnn_steps, batch_norm_state, SGD{}, false, 0.5);
  }
  SECTION("Adam") {
    check_two_steps(cnn(), {1, k_side, k_side}, reference_cnn_steps, batch_norm_state, Adam{}, true, 0.01);
  }
}

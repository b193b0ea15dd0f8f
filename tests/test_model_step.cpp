// A whole training step of a Model against a CPU step built from reference/: the batch order, input
// dropout, Linear, ReLU, hidden dropout, softmax cross-entropy, every gradient, the optimizer (SGD with
// momentum, and Adam) and the max-norm constraint. Two steps, so that momentum and Adam's moments carry
// over from the first, and the second draws new masks.
//
// The reference runs in double on the model's initial float weights; the GPU runs in float. With at most
// 17 terms per dot product and two updates, the float rounding stays below 1e-6 relative; the tolerance
// atol 2e-5 + rtol 2e-4 on the weights is far below what any wrong term (a mask, a factor of the learning
// rate, a skipped cap) changes: those move weights by 1e-3 and more.
#include "gpu.hpp"

#include <vkdrop/datasets/device_dataset.hpp>
#include <vkdrop/layers/dropout.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/relu.hpp>
#include <vkdrop/reference/dropout.hpp>
#include <vkdrop/reference/epoch_order.hpp>
#include <vkdrop/reference/linear.hpp>
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

Sequential net() {
  return Sequential{Dropout(k_p_in), Linear(k_in, k_hidden), ReLU(), Dropout(k_p_hidden), Linear(k_hidden, k_classes)};
}

struct Data {
  std::vector<uint8_t> images, labels;
};

Data make_data() {
  std::mt19937 rng(5);
  Data d{std::vector<uint8_t>(k_batch * k_steps * k_in), std::vector<uint8_t>(k_batch * k_steps)};
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

// Two training steps of net() on `data` from `weights`, as the Model must take them. Returns the mean
// training loss; `rows_capped` counts the rows max-norm scaled, so the test knows the cap was exercised.
double reference_steps(std::map<std::string, Vec>& w, const Data& data, const Schedule& schedule,
                       ReferenceOptimizer& opt, int& rows_capped) {
  const auto order = ref::epoch_order(k_batch * k_steps, k_seed, 0);
  double loss_sum = 0;
  for (uint64_t step = 0; step < k_steps; ++step) {
    // Gather: x = bytes / 255 in float, as the device converts them.
    Vec x(k_batch * k_in);
    std::vector<int32_t> labels(k_batch);
    for (int r = 0; r < k_batch; ++r) {
      const uint32_t s = order[step * k_batch + static_cast<uint64_t>(r)];
      for (int f = 0; f < k_in; ++f) x[r * k_in + f] = double(float(data.images[s * k_in + f]) * (1.0f / 255.0f));
      labels[static_cast<size_t>(r)] = data.labels[s];
    }
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
    // Update, then cap every weight row.
    for (auto& [name, values] : w) opt.step(name, values, g[name], schedule, step);
    for (const auto& [name, rows, cols] : {std::tuple{"1.weight", k_hidden, k_in}, std::tuple{"4.weight", k_classes, k_hidden}}) {
      Vec& weights = w[name];
      for (int r = 0; r < rows; ++r) {
        double sq = 0;
        for (int c = 0; c < cols; ++c) sq += weights[r * cols + c] * weights[r * cols + c];
        rows_capped += std::sqrt(sq) > k_max_norm ? 1 : 0;
      }
      ref::max_norm(weights.data(), rows, cols, k_max_norm);
    }
  }
  return loss_sum / k_steps;
}

void check_two_steps(AnyOptimizer optimizer, bool adam, double lr) {
  Context& ctx = test::context();
  const Data data = make_data();
  DeviceDataset train(ctx, data.images, {k_in}, data.labels, "step data");
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
  Model model(ctx, net(), {k_in}, config);

  std::map<std::string, Vec> w;
  for (const NamedTensor& t : model.state_dict()) w[t.name] = to_double(t.values);
  REQUIRE(w.size() == 4);
  const Metrics got = model.train_epoch(train);
  REQUIRE(model.step() == k_steps);

  Schedule schedule = config.schedule;
  schedule.steps_per_epoch = k_steps;
  ReferenceOptimizer opt{adam, {}, {}};
  int rows_capped = 0;
  const double want_loss = reference_steps(w, data, schedule, opt, rows_capped);
  CHECK(rows_capped > 0);  // the cap bound: max-norm is exercised, not vacuous

  for (const NamedTensor& t : model.state_dict()) {
    const std::vector<float> want(w[t.name].begin(), w[t.name].end());
    test::expect_close(t.values, want, 2e-5, 2e-4, fmt::format("{} after {} steps ({})", t.name, k_steps, adam ? "Adam" : "SGD"));
  }
  CHECK(got.loss == Approx(want_loss).epsilon(1e-5));
}

}  // namespace

TEST_CASE("two training steps with dropout and max-norm match the CPU reference: SGD with momentum") {
  check_two_steps(SGD{}, false, 0.5);
}

TEST_CASE("two training steps with dropout and max-norm match the CPU reference: Adam") {
  check_two_steps(Adam{}, true, 0.01);
}

// The CPU references checked on their own: every backward against central finite differences of its
// forward (in double, at odd shapes), and exact values worked out by hand for the edge cases and
// the optimizers.

#include <vkdrop/reference/dropout.hpp>
#include <vkdrop/reference/dropout2d.hpp>
#include <vkdrop/reference/linear.hpp>
#include <vkdrop/reference/matmul.hpp>
#include <vkdrop/reference/optimizers.hpp>
#include <vkdrop/reference/relu.hpp>
#include <vkdrop/reference/softmax_xent.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace vkdrop::ref;
using vkdrop::DropoutScaling;
using Catch::Matchers::Contains;

namespace {

constexpr double k_step = 1e-6;       // finite-difference step h
constexpr double k_tolerance = 1e-6;  // |analytic - numeric| <= k_tolerance * (1 + |numeric|)

std::vector<double> random_vector(size_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(lo, hi);
  std::vector<double> v(n);
  for (double& x : v) x = uniform(rng);
  return v;
}

// Σ a_i b_i: the projection that turns a tensor output into a scalar loss, so that the gradient of
// the loss with respect to the output is exactly b.
double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0.0;
  for (size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

// Compares the analytic gradient of loss() with respect to x against central differences, element by
// element; reports the first mismatches by tensor name and index.
void check_gradient(const std::string& name, std::vector<double>& x, const std::vector<double>& analytic,
                    const std::function<double()>& loss) {
  REQUIRE(analytic.size() == x.size());
  int mismatches = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + k_step;
    const double loss_plus = loss();
    x[i] = saved - k_step;
    const double loss_minus = loss();
    x[i] = saved;
    const double numeric = (loss_plus - loss_minus) / (2 * k_step);
    if (std::abs(analytic[i] - numeric) > k_tolerance * (1 + std::abs(numeric)) && ++mismatches <= 5) {
      FAIL_CHECK("gradient " << name << "[" << i << "]: analytic " << analytic[i] << ", numeric " << numeric);
    }
  }
  INFO("gradient " << name << ": " << mismatches << " of " << x.size() << " elements mismatch");
  CHECK(mismatches == 0);
}

}  // namespace

// --- gradients by finite differences ---------------------------------------------------------------

TEST_CASE("linear backward matches finite differences (B=3, in=7, out=5)") {
  const int B = 3, in = 7, out = 5;
  std::vector<double> x = random_vector(B * in, 1);      // (B, in)
  std::vector<double> w = random_vector(out * in, 2);    // (out, in)
  std::vector<double> b = random_vector(out, 3);         // (out)
  const std::vector<double> r = random_vector(B * out, 4);  // (B, out) dL/dy
  std::vector<double> y(B * out);                        // (B, out)
  auto loss = [&] {
    linear_forward(y.data(), x.data(), w.data(), b.data(), B, in, out);
    return dot(y, r);
  };
  std::vector<double> dx(B * in), dw(out * in), db(out);
  linear_backward(dx.data(), dw.data(), db.data(), r.data(), x.data(), w.data(), B, in, out);
  check_gradient("linear dx", x, dx, loss);
  check_gradient("linear dW", w, dw, loss);
  check_gradient("linear db", b, db, loss);

  SECTION("each gradient can be skipped with nullptr") {
    std::vector<double> dx_only(B * in);
    linear_backward(dx_only.data(), static_cast<double*>(nullptr), static_cast<double*>(nullptr), r.data(), x.data(),
                    w.data(), B, in, out);
    CHECK(dx_only == dx);
    std::vector<double> db_only(out);
    linear_backward(static_cast<double*>(nullptr), static_cast<double*>(nullptr), db_only.data(), r.data(), x.data(),
                    w.data(), B, in, out);
    CHECK(db_only == db);
  }
}

TEST_CASE("relu backward matches finite differences away from 0") {
  const int n = 33;
  std::vector<double> x = random_vector(n, 5);
  for (double& v : x) {
    if (std::abs(v) < 0.01) v = 0.5;  // the kink at 0 has no derivative
  }
  const std::vector<double> r = random_vector(n, 6);
  std::vector<double> y(n), dx(n);
  auto loss = [&] {
    relu_forward(y.data(), x.data(), n);
    return dot(y, r);
  };
  relu_backward(dx.data(), r.data(), x.data(), n);
  check_gradient("relu dx", x, dx, loss);
}

TEST_CASE("dropout backward matches finite differences for a fixed mask") {
  const int n = 129;
  const uint64_t seed = 42, step = 7;
  const uint32_t layer = 2;
  for (DropoutScaling scaling : {DropoutScaling::Inverted, DropoutScaling::Vanilla}) {
    INFO((scaling == DropoutScaling::Inverted ? "inverted" : "vanilla"));
    std::vector<double> x = random_vector(n, 7);
    const std::vector<double> r = random_vector(n, 8);
    std::vector<double> y(n), dx(n);
    auto loss = [&] {
      dropout_forward(y.data(), x.data(), n, 0.3, scaling, true, seed, step, layer);
      return dot(y, r);
    };
    dropout_backward(dx.data(), r.data(), n, 0.3, scaling, seed, step, layer);
    check_gradient("dropout dx", x, dx, loss);
  }
}

TEST_CASE("dropout2d backward matches finite differences for a fixed mask (N=2, C=3, S=5)") {
  const int N = 2, C = 3, S = 5;
  const uint64_t seed = 43, step = 11;
  const uint32_t layer = 1;
  for (DropoutScaling scaling : {DropoutScaling::Inverted, DropoutScaling::Vanilla}) {
    INFO((scaling == DropoutScaling::Inverted ? "inverted" : "vanilla"));
    std::vector<double> x = random_vector(N * C * S, 9);      // (N, C, S)
    const std::vector<double> r = random_vector(N * C * S, 10);  // (N, C, S)
    std::vector<double> y(N * C * S), dx(N * C * S);
    auto loss = [&] {
      dropout2d_forward(y.data(), x.data(), N, C, S, 0.5, scaling, true, seed, step, layer);
      return dot(y, r);
    };
    dropout2d_backward(dx.data(), r.data(), N, C, S, 0.5, scaling, seed, step, layer);
    check_gradient("dropout2d dx", x, dx, loss);
  }
}

TEST_CASE("softmax_xent backward matches finite differences (B=3, classes=7)") {
  const int B = 3, classes = 7;
  std::vector<double> logits = random_vector(B * classes, 11, -3.0, 3.0);  // (B, classes)
  const std::vector<int32_t> labels = {4, 0, 6};                          // (B)
  std::vector<double> dlogits(B * classes);
  softmax_xent_backward(dlogits.data(), logits.data(), labels.data(), B, classes);
  check_gradient("softmax_xent dlogits", logits, dlogits,
                 [&] { return softmax_xent_forward(logits.data(), labels.data(), B, classes); });
}

// --- forward values by hand ---------------------------------------------------------------------

TEST_CASE("matmul computes op(A)·op(B) for every transpose combination") {
  // A (2, 3) = [1 2 3; 4 5 6], B (3, 2) = [7 8; 9 10; 11 12], A·B = [58 64; 139 154].
  const std::vector<double> a = {1, 2, 3, 4, 5, 6}, a_t = {1, 4, 2, 5, 3, 6};  // A, Aᵀ stored (3, 2)
  const std::vector<double> b = {7, 8, 9, 10, 11, 12}, b_t = {7, 9, 11, 8, 10, 12};  // B, Bᵀ stored (2, 3)
  const std::vector<double> expected = {58, 64, 139, 154};
  std::vector<double> c(4);
  matmul(c.data(), a.data(), b.data(), 2, 2, 3, false, false);
  CHECK(c == expected);
  matmul(c.data(), a_t.data(), b.data(), 2, 2, 3, true, false);
  CHECK(c == expected);
  matmul(c.data(), a.data(), b_t.data(), 2, 2, 3, false, true);
  CHECK(c == expected);
  matmul(c.data(), a_t.data(), b_t.data(), 2, 2, 3, true, true);
  CHECK(c == expected);
}

TEST_CASE("linear forward is x·Wᵀ + b") {
  // x (1, 2) = [1 2], W (3, 2) = [1 0; 0 1; 1 1], b = [10 20 30] → y = [1+10, 2+20, 3+30].
  const std::vector<double> x = {1, 2}, w = {1, 0, 0, 1, 1, 1}, b = {10, 20, 30};
  std::vector<double> y(3);
  linear_forward(y.data(), x.data(), w.data(), b.data(), 1, 2, 3);
  CHECK(y == std::vector<double>{11, 22, 33});
  linear_forward(y.data(), x.data(), w.data(), static_cast<const double*>(nullptr), 1, 2, 3);
  CHECK(y == std::vector<double>{1, 2, 3});
}

TEST_CASE("relu at 0 gives 0 and gradient 0") {
  const std::vector<double> x = {-2.0, 0.0, 3.0}, dy = {1.0, 1.0, 1.0};
  std::vector<double> y(3), dx(3);
  relu_forward(y.data(), x.data(), 3);
  relu_backward(dx.data(), dy.data(), x.data(), 3);
  CHECK(y == std::vector<double>{0.0, 0.0, 3.0});
  CHECK(dx == std::vector<double>{0.0, 0.0, 1.0});
}

TEST_CASE("dropout at p = 0 is the identity and at p = 1 gives exact zeros") {
  const int n = 1000;
  const std::vector<float> x = [] {
    std::vector<float> v(1000);
    for (int i = 0; i < 1000; ++i) v[i] = float(i) - 500.25f;
    return v;
  }();
  std::vector<float> y(n), dx(n);
  for (DropoutScaling scaling : {DropoutScaling::Inverted, DropoutScaling::Vanilla}) {
    INFO((scaling == DropoutScaling::Inverted ? "inverted" : "vanilla"));
    for (bool training : {true, false}) {
      INFO((training ? "training" : "eval"));
      dropout_forward(y.data(), x.data(), n, 0.0, scaling, training, 1, 1, 0);
      CHECK(y == x);
    }
    dropout_backward(dx.data(), x.data(), n, 0.0, scaling, 1, 1, 0);
    CHECK(dx == x);

    dropout_forward(y.data(), x.data(), n, 1.0, scaling, true, 1, 1, 0);
    CHECK(y == std::vector<float>(n, 0.0f));
    dropout_backward(dx.data(), x.data(), n, 1.0, scaling, 1, 1, 0);
    CHECK(dx == std::vector<float>(n, 0.0f));
  }
  // Eval at p = 1: inverted dropout is still the identity; vanilla scales by 1 - p = 0.
  dropout_forward(y.data(), x.data(), n, 1.0, DropoutScaling::Inverted, false, 1, 1, 0);
  CHECK(y == x);
  dropout_forward(y.data(), x.data(), n, 1.0, DropoutScaling::Vanilla, false, 1, 1, 0);
  for (float v : y) REQUIRE(v == 0.0f);
}

TEST_CASE("dropout rejects p outside [0, 1]") {
  std::vector<float> x(4, 1.0f), y(4);
  CHECK_THROWS_AS(dropout_forward(y.data(), x.data(), 4, 1.5, DropoutScaling::Inverted, true, 1, 1, 0),
                  vkdrop::ArgumentError);
  CHECK_THROWS_AS(dropout_backward(y.data(), x.data(), 4, -0.5, DropoutScaling::Vanilla, 1, 1, 0),
                  vkdrop::ArgumentError);
  CHECK_THROWS_AS(dropout2d_forward(y.data(), x.data(), 1, 2, 2, std::numeric_limits<double>::quiet_NaN(),
                                    DropoutScaling::Inverted, false, 1, 1, 0),
                  vkdrop::ArgumentError);
}

TEST_CASE("inverted dropout preserves the mean over 10^6 elements") {
  const int n = 1'000'000;
  const double p = 0.3;
  const std::vector<double> x(n, 1.0);
  std::vector<double> y(n);
  dropout_forward(y.data(), x.data(), n, p, DropoutScaling::Inverted, true, 2024, 3, 1);
  double mean = 0.0;
  for (double v : y) mean += v;
  mean /= n;
  // y is 1/(1-p) with probability 1-p, else 0: mean 1, variance p/(1-p).
  const double sigma = std::sqrt(p / (1 - p) / n);
  INFO("mean " << mean << ", expected 1 +- " << 4 * sigma);
  CHECK(std::abs(mean - 1.0) < 4 * sigma);
}

TEST_CASE("vanilla dropout in eval scales by 1 - p") {
  const std::vector<float> x = {1.0f, -2.0f, 3.5f, 0.0f, 1e6f};
  std::vector<float> y(x.size());
  dropout_forward(y.data(), x.data(), int(x.size()), 0.2, DropoutScaling::Vanilla, false, 1, 1, 0);
  for (size_t i = 0; i < x.size(); ++i) CHECK(y[i] == x[i] * float(1.0 - 0.2));
  // Vanilla training does not rescale what it keeps.
  dropout_forward(y.data(), x.data(), int(x.size()), 0.2, DropoutScaling::Vanilla, true, 1, 1, 0);
  for (size_t i = 0; i < x.size(); ++i) CHECK((y[i] == x[i] || y[i] == 0.0f));
}

TEST_CASE("dropout2d drops whole channels") {
  const int N = 4, C = 8, S = 9;
  const double p = 0.5;
  const std::vector<double> x(N * C * S, 1.0);  // (N, C, S)
  std::vector<double> y(N * C * S);
  dropout2d_forward(y.data(), x.data(), N, C, S, p, DropoutScaling::Inverted, true, 5, 6, 7);
  int kept = 0, dropped = 0;
  for (int channel = 0; channel < N * C; ++channel) {
    const double first = y[channel * S];
    INFO("channel " << channel);
    CHECK((first == 0.0 || first == 2.0));  // 1 / (1 - p)
    for (int s = 0; s < S; ++s) REQUIRE(y[channel * S + s] == first);
    // The channel's fate is mask element n*C + c of the contract.
    CHECK((first != 0.0) == dropout_keep(5, 6, 7, uint64_t(channel), keep_threshold(p)));
    (first != 0.0 ? kept : dropped) += 1;
  }
  CHECK(kept > 0);
  CHECK(dropped > 0);
}

TEST_CASE("softmax_xent: hand values, huge logits stay finite, ties and bad labels") {
  // Two equal logits: softmax (1/2, 1/2), loss log 2, gradient (1/2 - 1, 1/2) / B.
  const std::vector<double> even = {0.0, 0.0};
  const std::vector<int32_t> label0 = {0};
  CHECK(softmax_xent_forward(even.data(), label0.data(), 1, 2) == Approx(std::log(2.0)).epsilon(1e-15));
  std::vector<double> grad(2);
  softmax_xent_backward(grad.data(), even.data(), label0.data(), 1, 2);
  CHECK(grad == std::vector<double>{-0.5, 0.5});

  // (1000, -1000): exp(1000) overflows unless the max is subtracted first.
  const std::vector<float> huge = {1000.0f, -1000.0f, 1000.0f, -1000.0f};  // (B=2, classes=2)
  const std::vector<int32_t> labels = {0, 1};
  const float loss = softmax_xent_forward(huge.data(), labels.data(), 2, 2);
  CHECK(std::isfinite(loss));
  CHECK(loss == Approx(1000.0));  // row 0 loss 0, row 1 loss 2000; mean 1000
  std::vector<float> dhuge(4);
  softmax_xent_backward(dhuge.data(), huge.data(), labels.data(), 2, 2);
  CHECK(dhuge == std::vector<float>{0.0f, 0.0f, 0.5f, -0.5f});  // (softmax - onehot) / 2

  // argmax ties go to the lowest index, as torch.argmax.
  const std::vector<float> tie = {1.0f, 1.0f, 0.0f, 2.0f, 5.0f, 2.0f};  // (B=2, classes=3)
  const std::vector<int32_t> tie_labels = {0, 1};
  CHECK(count_correct(tie.data(), tie_labels.data(), 2, 3) == 2);
  const std::vector<int32_t> tie_labels_high = {1, 1};
  CHECK(count_correct(tie.data(), tie_labels_high.data(), 2, 3) == 1);

  // A label outside [0, classes) names its row and its value.
  const std::vector<float> logits(3 * 10, 0.0f);  // (B=3, classes=10)
  const std::vector<int32_t> bad = {3, 10, 0};
  CHECK_THROWS_AS(softmax_xent_forward(logits.data(), bad.data(), 3, 10), vkdrop::ArgumentError);
  CHECK_THROWS_WITH(softmax_xent_forward(logits.data(), bad.data(), 3, 10), Contains("label 10") && Contains("row 1"));
  std::vector<float> dlogits(3 * 10);
  CHECK_THROWS_AS(softmax_xent_backward(dlogits.data(), logits.data(), bad.data(), 3, 10), vkdrop::ArgumentError);
  CHECK_THROWS_AS(count_correct(logits.data(), bad.data(), 3, 10), vkdrop::ArgumentError);
  const std::vector<int32_t> negative = {-1};
  CHECK_THROWS_AS(softmax_xent_forward(logits.data(), negative.data(), 1, 10), vkdrop::ArgumentError);
}

// --- optimizers by hand -------------------------------------------------------------------------

TEST_CASE("sgd with momentum and weight decay, two steps by hand") {
  // w = 1, g = 0.5 both steps, lr = 0.1, momentum = 0.9, wd = 0.01.
  SECTION("heavy ball") {
    double w = 1.0, v = 0.0;
    const double g = 0.5;
    sgd_step(&w, &g, &v, 1, 0.1, 0.9, 0.01, false);
    // g' = 0.5 + 0.01·1 = 0.51; v = 0.51; w = 1 - 0.1·0.51 = 0.949
    CHECK(v == Approx(0.51).epsilon(1e-14));
    CHECK(w == Approx(0.949).epsilon(1e-14));
    sgd_step(&w, &g, &v, 1, 0.1, 0.9, 0.01, false);
    // g' = 0.5 + 0.01·0.949 = 0.50949; v = 0.9·0.51 + 0.50949 = 0.96849; w = 0.949 - 0.096849 = 0.852151
    CHECK(v == Approx(0.96849).epsilon(1e-14));
    CHECK(w == Approx(0.852151).epsilon(1e-14));
  }
  SECTION("nesterov") {
    double w = 1.0, v = 0.0;
    const double g = 0.5;
    sgd_step(&w, &g, &v, 1, 0.1, 0.9, 0.01, true);
    // g' = 0.51; v = 0.51; step = 0.51 + 0.9·0.51 = 0.969; w = 1 - 0.0969 = 0.9031
    CHECK(w == Approx(0.9031).epsilon(1e-14));
    sgd_step(&w, &g, &v, 1, 0.1, 0.9, 0.01, true);
    // g' = 0.5 + 0.01·0.9031 = 0.509031; v = 0.459 + 0.509031 = 0.968031;
    // step = 0.509031 + 0.9·0.968031 = 1.3802589; w = 0.9031 - 0.13802589 = 0.76507411
    CHECK(v == Approx(0.968031).epsilon(1e-14));
    CHECK(w == Approx(0.76507411).epsilon(1e-14));
  }
  SECTION("plain sgd") {
    double w = 1.0, v = 0.0;
    const double g = 0.5;
    sgd_step(&w, &g, &v, 1, 0.1, 0.0, 0.0, false);  // w = 1 - 0.1·0.5
    CHECK(w == Approx(0.95).epsilon(1e-15));
  }
  SECTION("invalid hyperparameters") {
    double w = 1.0, v = 0.0;
    const double g = 0.5;
    CHECK_THROWS_AS(sgd_step(&w, &g, &v, 1, -0.1, 0.9, 0.0, false), vkdrop::ArgumentError);
    CHECK_THROWS_AS(sgd_step(&w, &g, &v, 1, 0.1, 0.0, 0.0, true), vkdrop::ArgumentError);  // nesterov needs momentum
  }
}

TEST_CASE("adam and adamw, by hand") {
  const double lr = 0.1, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  SECTION("adam, two steps of a constant gradient") {
    double w = 1.0, m = 0.0, v = 0.0;
    const double g = 0.5;
    adam_step(&w, &g, &m, &v, 1, lr, beta1, beta2, eps, 0.0, 1, false);
    // m = 0.1·0.5 = 0.05; v = 0.001·0.25 = 0.00025; m̂ = 0.05/0.1 = 0.5; v̂ = 0.00025/0.001 = 0.25;
    // w = 1 - 0.1·0.5/(0.5 + 1e-8)
    CHECK(m == Approx(0.05).epsilon(1e-14));
    CHECK(v == Approx(0.00025).epsilon(1e-14));
    CHECK(w == Approx(1.0 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-14));
    adam_step(&w, &g, &m, &v, 1, lr, beta1, beta2, eps, 0.0, 2, false);
    // m = 0.9·0.05 + 0.05 = 0.095; v = 0.999·0.00025 + 0.00025 = 0.00049975;
    // m̂ = 0.095/0.19 = 0.5; v̂ = 0.00049975/0.001999 = 0.25: the same step again.
    CHECK(m == Approx(0.095).epsilon(1e-14));
    CHECK(v == Approx(0.00049975).epsilon(1e-14));
    CHECK(w == Approx(1.0 - 2 * 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-14));
  }
  SECTION("adam adds wd·w to the gradient; adamw decays w instead") {
    // w = 1, g = 0, wd = 0.1.
    double w = 1.0, m = 0.0, v = 0.0;
    const double g = 0.0;
    adam_step(&w, &g, &m, &v, 1, lr, beta1, beta2, eps, 0.1, 1, false);
    // g' = 0.1; m̂ = 0.1, v̂ = 0.01, sqrt 0.1; w = 1 - 0.1·0.1/(0.1 + 1e-8)
    CHECK(w == Approx(1.0 - 0.1 * 0.1 / (0.1 + 1e-8)).epsilon(1e-14));

    double w2 = 1.0, m2 = 0.0, v2 = 0.0;
    adam_step(&w2, &g, &m2, &v2, 1, lr, beta1, beta2, eps, 0.1, 1, true);
    // w = 1·(1 - 0.1·0.1) = 0.99; g = 0 so m = v = 0 and the Adam update is 0/(0 + eps) = 0.
    CHECK(w2 == Approx(0.99).epsilon(1e-15));
    CHECK(m2 == 0.0);
    CHECK(v2 == 0.0);

    double w3 = 1.0, m3 = 0.0, v3 = 0.0;
    const double g3 = 0.5;
    adam_step(&w3, &g3, &m3, &v3, 1, lr, beta1, beta2, eps, 0.1, 1, true);
    // AdamW with g = 0.5: w = 0.99 - 0.1·0.5/(0.5 + 1e-8); the moments see the raw gradient.
    CHECK(w3 == Approx(0.99 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-14));
    CHECK(m3 == Approx(0.05).epsilon(1e-14));
  }
  SECTION("invalid hyperparameters") {
    double w = 1.0, m = 0.0, v = 0.0;
    const double g = 0.5;
    CHECK_THROWS_AS(adam_step(&w, &g, &m, &v, 1, lr, beta1, beta2, eps, 0.0, 0, false), vkdrop::ArgumentError);
    CHECK_THROWS_AS(adam_step(&w, &g, &m, &v, 1, lr, 1.0, beta2, eps, 0.0, 1, false), vkdrop::ArgumentError);
  }
}

TEST_CASE("max_norm scales rows above c to norm c and leaves the others untouched") {
  // W (4, 2): norms 10, 0.5, 5 (exactly c), sqrt(2)·7.
  std::vector<double> w = {6.0, 8.0, 0.3, 0.4, 3.0, 4.0, 7.0, -7.0};
  max_norm(w.data(), 4, 2, 5.0);
  CHECK(w[0] == 3.0);  // scaled by 5/10
  CHECK(w[1] == 4.0);
  CHECK(w[2] == 0.3);  // below c: bit for bit unchanged
  CHECK(w[3] == 0.4);
  CHECK(w[4] == 3.0);  // at c: unchanged
  CHECK(w[5] == 4.0);
  CHECK(std::hypot(w[6], w[7]) == Approx(5.0).epsilon(1e-15));
  CHECK(w[6] == -w[7]);
  CHECK_THROWS_AS(max_norm(w.data(), 4, 2, 0.0), vkdrop::ArgumentError);
}

// --- float instantiations: what the GPU is compared against ---------------------------------------

TEST_CASE("float references agree with the double references") {
  const int B = 3, in = 7, out = 5;
  const std::vector<double> xd = random_vector(B * in, 12), wd = random_vector(out * in, 13),
                            bd = random_vector(out, 14);
  const std::vector<float> xf(xd.begin(), xd.end()), wf(wd.begin(), wd.end()), bf(bd.begin(), bd.end());
  std::vector<double> yd(B * out);
  std::vector<float> yf(B * out);
  linear_forward(yd.data(), xd.data(), wd.data(), bd.data(), B, in, out);
  linear_forward(yf.data(), xf.data(), wf.data(), bf.data(), B, in, out);
  for (int i = 0; i < B * out; ++i) CHECK(yf[i] == Approx(yd[i]).margin(1e-5));

  std::vector<float> wf2 = wf, gf(wf.size(), 0.25f), mf(wf.size()), vf(wf.size());
  adam_step(wf2.data(), gf.data(), mf.data(), vf.data(), int(wf.size()), 1e-3, 0.9, 0.999, 1e-8, 1e-2, 1, true);
  sgd_step(wf2.data(), gf.data(), vf.data(), int(wf.size()), 1e-2, 0.9, 1e-4, true);
  max_norm(wf2.data(), out, in, 1.0);
  for (float v : wf2) CHECK(std::isfinite(v));
}

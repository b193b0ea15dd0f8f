// Element-wise dropout (ops/dropout.hpp) against its CPU reference (reference/dropout.hpp), bit for bit:
// the keep decisions are integer-only (the mask contract in reference/dropout_mask.hpp) and a kept element
// is the same f32 product x * float(scale) on both sides, so the tolerance is 0. The statistical checks
// draw >= 10^6 elements and allow 4 standard deviations.
#include "gpu.hpp"

#include <vkdrop/ops/dropout.hpp>
#include <vkdrop/reference/dropout.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/kernel.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <cmath>
#include <cstring>
#include <limits>

using namespace vkdrop;

namespace {

constexpr uint64_t k_seed = 0x0123'4567'89ab'cdefull;  // both halves of the key matter
constexpr uint64_t k_step = (uint64_t{1} << 32) + 5;    // both halves of the counter's step matter
constexpr uint32_t k_layer = 7;

void set_step(Context& ctx, const Tensor& step, uint64_t value) {
  const std::vector<uint32_t> words = {static_cast<uint32_t>(value), static_cast<uint32_t>(value >> 32)};
  upload(ctx, step, std::span<const uint32_t>(words));
}

std::string scaling_name(DropoutScaling s) { return s == DropoutScaling::Inverted ? "inverted" : "vanilla"; }

// A dropout problem of n elements: x, y, dy, dx and the step counter in one arena.
struct Problem {
  Arena arena;
  Tensor x, y, dy, dx, step;
  Problem(Context& ctx, int64_t n, uint64_t step_value = k_step)
      : arena(ctx, static_cast<uint64_t>(n) * 16 + (1 << 16)),
        x(make_tensor(arena, {n}, DType::f32, "x")),      // (n)
        y(make_tensor(arena, {n}, DType::f32, "y")),      // (n)
        dy(make_tensor(arena, {n}, DType::f32, "dy")),    // (n)
        dx(make_tensor(arena, {n}, DType::f32, "dx")),    // (n)
        step(make_tensor(arena, {2}, DType::u32, "step"))  // (2)
  {
    set_step(ctx, step, step_value);
  }
};

// y = dropout(x) on the GPU.
std::vector<float> gpu_forward(Context& ctx, Problem& pr, const std::vector<float>& xs, const ops::DropoutConfig& c,
                               bool training) {
  upload(ctx, pr.x, std::span<const float>(xs));
  Recorder rec(ctx);
  ops::dropout_forward(rec, pr.y, pr.x, c, training, pr.step);
  rec.run();
  return download_f32(ctx, pr.y);
}

}  // namespace

TEST_CASE("dropout forward and backward match the reference bit for bit") {
  Context& ctx = test::context();
  for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{12}, int64_t{33}, int64_t{129}, int64_t{1000}, int64_t{1004},
                    int64_t{100003}}) {
    Problem pr(ctx, n);
    const size_t count = static_cast<size_t>(n);
    const std::vector<float> xs = test::random_floats(count, 11), dys = test::random_floats(count, 12);
    upload(ctx, pr.x, std::span<const float>(xs));
    upload(ctx, pr.dy, std::span<const float>(dys));
    for (DropoutScaling scaling : {DropoutScaling::Inverted, DropoutScaling::Vanilla}) {
      for (bool training : {true, false}) {
        const ops::DropoutConfig config{0.3, scaling, k_seed, k_layer};
        const std::string what = fmt::format("n = {}, {}, {}", n, scaling_name(scaling), training ? "train" : "eval");
        Recorder rec(ctx);
        ops::dropout_forward(rec, pr.y, pr.x, config, training, pr.step);
        ops::dropout_backward(rec, pr.dx, pr.dy, config, pr.step);
        rec.run();
        std::vector<float> want_y(count), want_dx(count);
        ref::dropout_forward(want_y.data(), xs.data(), int(n), config.p, scaling, training, k_seed, k_step, k_layer);
        ref::dropout_backward(want_dx.data(), dys.data(), int(n), config.p, scaling, k_seed, k_step, k_layer);
        test::expect_bits(download_f32(ctx, pr.y), want_y, "dropout forward y, " + what);
        test::expect_bits(download_f32(ctx, pr.dx), want_dx, "dropout backward dx, " + what);
      }
    }
  }
}

TEST_CASE("both dropout kernels, one draw at a time (GPUs) and four interleaved (CPU devices), give the same bits") {
  Context& ctx = test::context();
  // Partial last quads, a last iteration with fewer than four quads in range, several workgroups.
  for (int64_t n : {int64_t{1}, int64_t{6}, int64_t{17}, int64_t{1030}, int64_t{65541}}) {
    Problem pr(ctx, n);
    const size_t count = static_cast<size_t>(n);
    const std::vector<float> xs = test::random_floats(count, 21);
    upload(ctx, pr.x, std::span<const float>(xs));
    for (uint32_t draws : {1u, 4u}) {
      for (bool training : {true, false}) {
        const ops::DropoutConfig config{0.4, DropoutScaling::Vanilla, k_seed, k_layer};
        Recorder rec(ctx);
        ops::dropout_forward(rec, pr.y, pr.x, config, training, pr.step, draws);
        rec.run();
        std::vector<float> want(count);
        ref::dropout_forward(want.data(), xs.data(), int(n), config.p, config.scaling, training, k_seed, k_step,
                             k_layer);
        test::expect_bits(download_f32(ctx, pr.y), want,
                          fmt::format("n = {}, {} draws at once, {}", n, draws, training ? "train" : "eval"));
      }
    }
  }
  Problem pr(ctx, 8);
  Recorder rec(ctx);
  CHECK_THROWS_AS(ops::dropout_forward(rec, pr.y, pr.x, ops::DropoutConfig{}, true, pr.step, 2), ArgumentError);
}

TEST_CASE("dropout runs in place") {
  Context& ctx = test::context();
  const int64_t n = 1001;
  Problem pr(ctx, n);
  const size_t count = static_cast<size_t>(n);
  const std::vector<float> xs = test::random_floats(count, 13), dys = test::random_floats(count, 14);
  upload(ctx, pr.x, std::span<const float>(xs));
  upload(ctx, pr.dy, std::span<const float>(dys));
  const ops::DropoutConfig config{0.25, DropoutScaling::Inverted, k_seed, k_layer};
  Recorder rec(ctx);
  ops::dropout_forward(rec, pr.x, pr.x, config, true, pr.step);
  ops::dropout_backward(rec, pr.dy, pr.dy, config, pr.step);
  rec.run();
  std::vector<float> want_y(count), want_dx(count);
  ref::dropout_forward(want_y.data(), xs.data(), int(n), config.p, config.scaling, true, k_seed, k_step, k_layer);
  ref::dropout_backward(want_dx.data(), dys.data(), int(n), config.p, config.scaling, k_seed, k_step, k_layer);
  test::expect_bits(download_f32(ctx, pr.x), want_y, "dropout forward in place");
  test::expect_bits(download_f32(ctx, pr.dy), want_dx, "dropout backward in place");
}

TEST_CASE("dropout with p = 0 is the identity, with p = 1 exact zeros even for inf and NaN") {
  Context& ctx = test::context();
  const int64_t n = 4099;
  Problem pr(ctx, n);
  const size_t count = static_cast<size_t>(n);
  std::vector<float> xs = test::random_floats(count, 15);
  xs[0] = std::numeric_limits<float>::infinity();
  xs[1] = -std::numeric_limits<float>::infinity();
  xs[2] = std::numeric_limits<float>::quiet_NaN();
  xs[3] = -0.0f;
  xs[count - 1] = std::numeric_limits<float>::infinity();
  for (DropoutScaling scaling : {DropoutScaling::Inverted, DropoutScaling::Vanilla}) {
    const std::string name = scaling_name(scaling);
    test::expect_bits(gpu_forward(ctx, pr, xs, {0.0, scaling, k_seed, k_layer}, true), xs, "p = 0, train, " + name);
    test::expect_bits(gpu_forward(ctx, pr, xs, {0.0, scaling, k_seed, k_layer}, false), xs, "p = 0, eval, " + name);
    const std::vector<float> zeros(count, 0.0f);
    test::expect_bits(gpu_forward(ctx, pr, xs, {1.0, scaling, k_seed, k_layer}, true), zeros, "p = 1, train, " + name);

    upload(ctx, pr.dy, std::span<const float>(xs));
    Recorder rec(ctx);
    ops::dropout_backward(rec, pr.dx, pr.dy, {1.0, scaling, k_seed, k_layer}, pr.step);
    rec.run();
    test::expect_bits(download_f32(ctx, pr.dx), zeros, "p = 1, backward, " + name);
  }
  // Eval with vanilla scaling and p = 1 multiplies by 0: inf and NaN stay NaN, as in the reference.
  std::vector<float> want(count);
  ref::dropout_forward(want.data(), xs.data(), int(n), 1.0, DropoutScaling::Vanilla, false, k_seed, k_step, k_layer);
  test::expect_bits(gpu_forward(ctx, pr, xs, {1.0, DropoutScaling::Vanilla, k_seed, k_layer}, false), want,
              "p = 1, eval, vanilla");
}

TEST_CASE("dropout keeps 1 - p of 10^6 elements, and inverted scaling keeps the mean") {
  Context& ctx = test::context();
  const int64_t n = int64_t{1} << 20;
  Problem pr(ctx, n);
  const std::vector<float> ones(static_cast<size_t>(n), 1.0f);
  for (double p : {0.1, 0.5, 0.9}) {
    const std::vector<float> y = gpu_forward(ctx, pr, ones, {p, DropoutScaling::Inverted, k_seed, k_layer}, true);
    int64_t kept = 0;
    double sum = 0;
    for (float v : y) {
      kept += v != 0.0f;
      sum += v;
    }
    const double nd = static_cast<double>(n);
    const double sigma = std::sqrt(nd * p * (1 - p));
    INFO(fmt::format("p = {}: kept {} of {}, expected {:.0f} +- {:.0f} (1 sigma)", p, kept, n, nd * (1 - p), sigma));
    CHECK(std::abs(static_cast<double>(kept) - nd * (1 - p)) <= 4 * sigma);
    // y is 0 or 1/(1-p), so mean(y) has standard deviation sqrt(p / ((1-p) n)) around E[y] = x = 1.
    const double mean_sigma = std::sqrt(p / ((1 - p) * nd));
    INFO(fmt::format("mean(y) = {:.6f}, expected 1 +- {:.6f} (1 sigma)", sum / nd, mean_sigma));
    CHECK(std::abs(sum / nd - 1.0) <= 4 * mean_sigma);
  }
}

TEST_CASE("the step in device memory picks the mask: a replay with a new step draws a new one") {
  Context& ctx = test::context();
  const int64_t n = 10000;
  const size_t count = static_cast<size_t>(n);
  Problem pr(ctx, n, 100);
  const std::vector<float> ones(count, 1.0f);
  upload(ctx, pr.x, std::span<const float>(ones));
  const ops::DropoutConfig config{0.5, DropoutScaling::Inverted, k_seed, k_layer};
  Recorder rec(ctx);  // recorded once, replayed below
  ops::dropout_forward(rec, pr.y, pr.x, config, true, pr.step);
  rec.finish();

  auto mask_at = [&](uint64_t step) {
    set_step(ctx, pr.step, step);
    rec.run();
    return download_f32(ctx, pr.y);
  };
  const std::vector<float> a = mask_at(100), b = mask_at(101), a_again = mask_at(100);
  CHECK(a != b);
  test::expect_bits(a_again, a, "the same step, replayed");
  std::vector<float> want(count);
  ref::dropout_forward(want.data(), ones.data(), int(n), config.p, config.scaling, true, k_seed, 101, k_layer);
  test::expect_bits(b, want, "step 101 against the reference");

  // A recording that advances its own step (as a training step does) draws a new mask every replay.
  set_step(ctx, pr.step, 100);
  Recorder step_rec(ctx);
  ops::dropout_forward(step_rec, pr.y, pr.x, config, true, pr.step);
  struct CounterParams {
    uint32_t index, amount;
  };
  step_rec.dispatch(ctx.kernel("counter_add"), {pr.step.slice}, CounterParams{0, 1}, {1, 1, 1});
  step_rec.run(2);  // steps 100 and 101; the second replay's y is step 101's
  test::expect_bits(download_f32(ctx, pr.y), want, "second replay of a self-advancing recording");
  CHECK(download_u32(ctx, pr.step) == std::vector<uint32_t>{102, 0});

  // Another layer, or another seed, at the same step: another mask.
  set_step(ctx, pr.step, 100);
  CHECK(gpu_forward(ctx, pr, ones, {0.5, DropoutScaling::Inverted, k_seed, k_layer + 1}, true) != a);
  CHECK(gpu_forward(ctx, pr, ones, {0.5, DropoutScaling::Inverted, k_seed + 1, k_layer}, true) != a);
}

TEST_CASE("dropout backward drops exactly what forward dropped") {
  Context& ctx = test::context();
  const int64_t n = 50001;
  const size_t count = static_cast<size_t>(n);
  Problem pr(ctx, n);
  // Inputs without zeros, so a zero output means a dropped element.
  const std::vector<float> xs = test::random_floats(count, 16, 0.5f, 2.0f);
  const std::vector<float> dys = test::random_floats(count, 17, -2.0f, -0.5f);
  upload(ctx, pr.x, std::span<const float>(xs));
  upload(ctx, pr.dy, std::span<const float>(dys));
  const ops::DropoutConfig config{0.4, DropoutScaling::Vanilla, k_seed, k_layer};
  Recorder rec(ctx);
  ops::dropout_forward(rec, pr.y, pr.x, config, true, pr.step);
  ops::dropout_backward(rec, pr.dx, pr.dy, config, pr.step);
  rec.run();
  const std::vector<float> y = download_f32(ctx, pr.y), dx = download_f32(ctx, pr.dx);
  size_t disagree = 0, dropped = 0;
  for (size_t i = 0; i < count; ++i) {
    disagree += (y[i] == 0.0f) != (dx[i] == 0.0f);
    dropped += y[i] == 0.0f;
  }
  CHECK(disagree == 0);
  CHECK(dropped > 0);
  CHECK(dropped < count);
}

TEST_CASE("dropout rejects a bad p, mismatched shapes and a malformed step") {
  Context& ctx = test::context();
  Problem pr(ctx, 8);
  Arena arena(ctx, 1 << 16);
  Tensor seven = make_tensor(arena, {7}, DType::f32, "seven");
  Tensor matrix = make_tensor(arena, {2, 4}, DType::f32, "matrix");
  Tensor step3 = make_tensor(arena, {3}, DType::u32, "step3");
  Tensor step_f32 = make_tensor(arena, {2}, DType::f32, "step_f32");
  Recorder rec(ctx);
  for (double p : {-0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    INFO("p = " << p);
    const ops::DropoutConfig bad{p, DropoutScaling::Inverted, k_seed, k_layer};
    CHECK_THROWS_WITH(ops::dropout_forward(rec, pr.y, pr.x, bad, true, pr.step),
                      Catch::Matchers::Contains("dropout_forward") && Catch::Matchers::Contains("[0, 1]"));
    CHECK_THROWS_AS(ops::dropout_forward(rec, pr.y, pr.x, bad, false, pr.step), ArgumentError);
    CHECK_THROWS_AS(ops::dropout_backward(rec, pr.dx, pr.dy, bad, pr.step), ArgumentError);
  }
  const ops::DropoutConfig ok{0.5, DropoutScaling::Inverted, k_seed, k_layer};
  CHECK_THROWS_WITH(ops::dropout_forward(rec, seven, pr.x, ok, true, pr.step),
                    Catch::Matchers::Contains("(7,)") && Catch::Matchers::Contains("(8,)"));
  CHECK_THROWS_AS(ops::dropout_forward(rec, matrix, pr.x, ok, true, pr.step), ShapeError);
  CHECK_THROWS_AS(ops::dropout_backward(rec, pr.dx, seven, ok, pr.step), ShapeError);
  CHECK_THROWS_WITH(ops::dropout_forward(rec, pr.y, pr.x, ok, true, step3), Catch::Matchers::Contains("step"));
  CHECK_THROWS_AS(ops::dropout_backward(rec, pr.dx, pr.dy, ok, step_f32), ArgumentError);
  CHECK(rec.dispatch_count() == 0);

  Tensor empty = make_tensor(arena, {0}, DType::f32, "empty");
  ops::dropout_forward(rec, empty, empty, ok, true, pr.step);
  ops::dropout_backward(rec, empty, empty, ok, pr.step);
  CHECK(rec.dispatch_count() == 0);
}

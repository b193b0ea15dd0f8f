// ops::softmax_xent and ops::accumulate_metrics against reference/softmax_xent.hpp.
//
// Tolerances: the shader works in float (exp, log, a tree of partial sums) where the reference works in
// double; row losses agree to atol 2e-5 + rtol 1e-5 (a loss is a difference of O(log C + |z|) terms),
// gradients to atol 2.4e-7/B + rtol 1e-5 (each is a float softmax, one exp and one division away from the
// double one; the atol, two ulps of 1 over B, covers softmax - 1 of a confidently correct row, which
// cancels). Argmax and the status bit are exact.
#include "gpu.hpp"

#include <vkdrop/ops/softmax_xent.hpp>
#include <vkdrop/reference/softmax_xent.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

using namespace vkdrop;

namespace {

constexpr double k_gradient_atol = 2.4e-7;  // times 1/B: see the tolerances above
constexpr float k_sentinel = 12345.0f;  // pre-filled into outputs, so an element left unwritten shows

struct XentResult {
  std::vector<float> row_loss;       // (B)
  std::vector<uint32_t> row_correct;  // (B)
  std::vector<float> dlogits;        // (B, C), empty without a gradient
  uint32_t status = 0;
};

XentResult run_softmax_xent(int64_t B, int64_t C, const std::vector<float>& logits_host,
                            const std::vector<int32_t>& labels_host, bool gradient) {
  Context& ctx = test::context();
  Arena arena(ctx, 4 << 20);
  Tensor logits = make_tensor(arena, {B, C}, DType::f32, "logits");
  Tensor labels = make_tensor(arena, {B}, DType::i32, "labels");
  Tensor dlogits = make_tensor(arena, gradient ? Shape{B, C} : Shape{0}, DType::f32, "dlogits");
  Tensor row_loss = make_tensor(arena, {B}, DType::f32, "row_loss");
  Tensor row_correct = make_tensor(arena, {B}, DType::u32, "row_correct");
  Tensor status = make_tensor(arena, {1}, DType::u32, "status");
  upload(ctx, logits, std::span<const float>(logits_host));
  upload(ctx, labels, std::span<const int32_t>(labels_host));
  const size_t rows = static_cast<size_t>(B);
  upload(ctx, row_loss, std::span<const float>(std::vector<float>(rows, k_sentinel)));
  upload(ctx, row_correct, std::span<const uint32_t>(std::vector<uint32_t>(rows, 7u)));
  upload(ctx, status, std::span<const uint32_t>(std::vector<uint32_t>{0}));
  if (gradient) upload(ctx, dlogits, std::span<const float>(std::vector<float>(rows * C, k_sentinel)));

  Recorder rec(ctx);
  ops::softmax_xent(rec, dlogits, row_loss, row_correct, logits, labels, status);
  rec.run();
  XentResult result;
  result.row_loss = download_f32(ctx, row_loss);
  result.row_correct = download_u32(ctx, row_correct);
  if (gradient) result.dlogits = download_f32(ctx, dlogits);
  result.status = download_u32(ctx, status)[0];
  return result;
}

// Each label in [0, C), drawn from a fixed seed.
std::vector<int32_t> random_labels(int64_t B, int64_t C, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, static_cast<int32_t>(C - 1));
  std::vector<int32_t> labels(static_cast<size_t>(B));
  for (int32_t& label : labels) label = dist(rng);
  return labels;
}

struct XentReference {
  std::vector<float> row_loss;
  std::vector<uint32_t> row_correct;
  std::vector<float> dlogits;
};

// The reference row by row (its forward is the batch mean; a one-row batch is that row's loss). Rows whose
// label is out of range get what the shader promises: loss 0, not correct, zero gradient.
XentReference reference(int64_t B, int64_t C, const std::vector<float>& logits, const std::vector<int32_t>& labels) {
  const int c = static_cast<int>(C);
  XentReference want;
  want.dlogits.assign(static_cast<size_t>(B * C), 0.0f);
  bool all_valid = true;
  for (int64_t row = 0; row < B; ++row) {
    const float* z = logits.data() + row * C;
    const int32_t* label = labels.data() + row;
    if (*label < 0 || *label >= c) {
      all_valid = false;
      want.row_loss.push_back(0.0f);
      want.row_correct.push_back(0);
      continue;
    }
    want.row_loss.push_back(ref::softmax_xent_forward(z, label, 1, c));
    want.row_correct.push_back(static_cast<uint32_t>(ref::count_correct(z, label, 1, c)));
    ref::softmax_xent_backward(want.dlogits.data() + row * C, z, label, 1, c);
    for (int64_t j = 0; j < C; ++j) want.dlogits[static_cast<size_t>(row * C + j)] /= static_cast<float>(B);
  }
  if (all_valid) {
    // The batch functions themselves, for the record: the mean of the rows and the full gradient.
    const int b = static_cast<int>(B);
    const double mean = std::accumulate(want.row_loss.begin(), want.row_loss.end(), 0.0) / static_cast<double>(B);
    CHECK(ref::softmax_xent_forward(logits.data(), labels.data(), b, c) == Approx(mean).epsilon(1e-6).margin(1e-6));
    std::vector<float> batch_grad(static_cast<size_t>(B * C));
    ref::softmax_xent_backward(batch_grad.data(), logits.data(), labels.data(), b, c);
    test::expect_close(want.dlogits, batch_grad, 1e-9, 1e-6, "reference dlogits row by row vs batch");
  }
  return want;
}

void expect_matches(int64_t B, int64_t C, const std::vector<float>& logits, const std::vector<int32_t>& labels,
                    const std::string& shape) {
  const XentReference want = reference(B, C, logits, labels);
  const XentResult got = run_softmax_xent(B, C, logits, labels, /*gradient=*/true);
  test::expect_close(got.row_loss, want.row_loss, 2e-5, 1e-5, "softmax_xent forward, row_loss " + shape);
  CHECK(got.row_correct == want.row_correct);
  test::expect_close(got.dlogits, want.dlogits, k_gradient_atol / static_cast<double>(B), 1e-5,
                     "softmax_xent backward, dlogits " + shape);
  CHECK(got.status == 0);
}

}  // namespace

TEST_CASE("softmax_xent matches the reference: row losses, correct rows, gradient") {
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 1},   {1, 10},  {7, 10},  {128, 10}, {33, 7},
                                                           {129, 33}, {5, 129}, {7, 1000}, {3, 1},   {1, 1000}};
  uint32_t seed = 1;
  for (auto [B, C] : shapes) {
    const std::string shape = fmt::format("({}, {})", B, C);
    INFO("logits " << shape);
    const std::vector<float> logits = test::random_floats(static_cast<size_t>(B * C), seed++, -6.0f, 6.0f);
    expect_matches(B, C, logits, random_labels(B, C, seed++), shape);
  }
}

TEST_CASE("softmax_xent covers more rows than the device launches workgroups") {
  // Rows past maxComputeWorkGroupCount[0] (65535 on lavapipe) are reached by the shader's row loop.
  const int64_t B = std::min<int64_t>(test::context().info().max_workgroup_count[0] + 5, 1 << 17), C = 3;
  const std::vector<float> logits = test::random_floats(static_cast<size_t>(B * C), 51, -4.0f, 4.0f);
  expect_matches(B, C, logits, random_labels(B, C, 52), fmt::format("({}, {})", B, C));
}

TEST_CASE("softmax_xent: the argmax breaks ties toward the lowest index, as torch.argmax") {
  const int64_t C = 10;
  std::vector<float> logits(4 * C, 0.0f);
  logits[2] = logits[5] = 3.0f;        // row 0: tie between 2 and 5, label 2 → correct
  logits[C + 2] = logits[C + 5] = 3.0f;  // row 1: same tie, label 5 → not correct
  // row 2: all equal → argmax 0; row 3: tie between the last two columns, label 9 → not correct
  logits[3 * C + 8] = logits[3 * C + 9] = 1.0f;
  const std::vector<int32_t> labels = {2, 5, 0, 9};
  const XentResult got = run_softmax_xent(4, C, logits, labels, true);
  CHECK(got.row_correct == std::vector<uint32_t>{1, 0, 1, 0});
  expect_matches(4, C, logits, labels, "(4, 10) ties");

  // Ties across the strided columns of different invocations: C = 1000, equal maxima at 999, 700 and 300.
  std::vector<float> wide = test::random_floats(1000, 3, -1.0f, 1.0f);
  wide[999] = wide[700] = wide[300] = 2.0f;
  CHECK(run_softmax_xent(1, 1000, wide, {300}, true).row_correct == std::vector<uint32_t>{1});
  CHECK(run_softmax_xent(1, 1000, wide, {700}, true).row_correct == std::vector<uint32_t>{0});
}

TEST_CASE("softmax_xent is finite for logits of ±1000") {
  const int64_t B = 6, C = 10;
  std::vector<float> logits = test::random_floats(static_cast<size_t>(B * C), 11, -1000.0f, 1000.0f);
  for (int64_t j = 0; j < C; ++j) logits[static_cast<size_t>(j)] = j % 2 ? 1000.0f : -1000.0f;  // exact extremes
  for (int64_t j = 0; j < C; ++j) logits[static_cast<size_t>(C + j)] = -1000.0f;                // all at the bottom
  const std::vector<int32_t> labels = {0, 3, 1, 2, 9, 4};  // row 0: a label at -1000 → loss 2000
  const XentResult got = run_softmax_xent(B, C, logits, labels, true);
  for (float loss : got.row_loss) CHECK(std::isfinite(loss));
  for (float d : got.dlogits) CHECK(std::isfinite(d));
  CHECK(got.row_loss[0] == Approx(2000.0 + std::log(5.0)).epsilon(1e-6));
  expect_matches(B, C, logits, labels, "(6, 10) at ±1000");
}

TEST_CASE("softmax_xent without a gradient writes the same losses and no gradient") {
  const int64_t B = 33, C = 10;
  const std::vector<float> logits = test::random_floats(static_cast<size_t>(B * C), 21, -4.0f, 4.0f);
  const std::vector<int32_t> labels = random_labels(B, C, 22);
  const XentReference want = reference(B, C, logits, labels);
  const XentResult got = run_softmax_xent(B, C, logits, labels, /*gradient=*/false);
  test::expect_close(got.row_loss, want.row_loss, 2e-5, 1e-5, "softmax_xent eval, row_loss (33, 10)");
  CHECK(got.row_correct == want.row_correct);
  CHECK(got.status == 0);
}

TEST_CASE("softmax_xent: a label outside [0, C) sets the status bit and zeroes only its row") {
  const int64_t B = 7, C = 10;
  const std::vector<float> logits = test::random_floats(static_cast<size_t>(B * C), 31, -3.0f, 3.0f);
  std::vector<int32_t> labels = random_labels(B, C, 32);
  labels[1] = 10;  // one past the end
  labels[4] = -1;
  labels[6] = std::numeric_limits<int32_t>::min();
  for (bool gradient : {true, false}) {
    INFO("gradient: " << gradient);
    const XentResult got = run_softmax_xent(B, C, logits, labels, gradient);
    CHECK(got.status == 1u);
    const XentReference want = reference(B, C, logits, labels);
    test::expect_close(got.row_loss, want.row_loss, 2e-5, 1e-5, "softmax_xent bad labels, row_loss (7, 10)");
    CHECK(got.row_correct == want.row_correct);
    if (gradient) {
      test::expect_close(got.dlogits, want.dlogits, k_gradient_atol / static_cast<double>(B), 1e-5,
                         "softmax_xent bad labels, dlogits (7, 10)");
      for (int64_t j = 0; j < C; ++j) CHECK(got.dlogits[static_cast<size_t>(C + j)] == 0.0f);
    }
  }
  // A single bad row in a one-row batch with one class; status bits already set stay set.
  const XentResult one = run_softmax_xent(1, 1, {0.5f}, {1}, true);
  CHECK(one.status == 1u);
  CHECK(one.row_loss == std::vector<float>{0.0f});
  CHECK(one.dlogits == std::vector<float>{0.0f});
}

TEST_CASE("softmax_xent: an empty batch records nothing") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 20);
  Tensor logits = make_tensor(arena, {0, 10}, DType::f32, "logits");
  Tensor labels = make_tensor(arena, {0}, DType::i32, "labels");
  Tensor row_loss = make_tensor(arena, {0}, DType::f32, "row_loss");
  Tensor row_correct = make_tensor(arena, {0}, DType::u32, "row_correct");
  Tensor status = make_tensor(arena, {1}, DType::u32, "status");
  Tensor totals = make_tensor(arena, {4}, DType::f32, "totals");
  Recorder rec(ctx);
  ops::softmax_xent(rec, logits, row_loss, row_correct, logits, labels, status);
  ops::accumulate_metrics(rec, totals, row_loss, row_correct);
  CHECK(rec.dispatch_count() == 0);
}

TEST_CASE("softmax_xent refuses tensors of the wrong shape or type") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 20);
  Tensor logits = make_tensor(arena, {8, 10}, DType::f32, "logits");
  Tensor dlogits = make_tensor(arena, {8, 10}, DType::f32, "dlogits");
  Tensor labels = make_tensor(arena, {8}, DType::i32, "labels");
  Tensor row_loss = make_tensor(arena, {8}, DType::f32, "row_loss");
  Tensor row_correct = make_tensor(arena, {8}, DType::u32, "row_correct");
  Tensor status = make_tensor(arena, {1}, DType::u32, "status");
  Tensor short_labels = make_tensor(arena, {7}, DType::i32, "labels7");
  Tensor float_labels = make_tensor(arena, {8}, DType::f32, "labels_f32");
  Tensor wide_dlogits = make_tensor(arena, {8, 11}, DType::f32, "dlogits11");
  Tensor flat_logits = make_tensor(arena, {80}, DType::f32, "flat");
  Tensor no_classes = make_tensor(arena, {8, 0}, DType::f32, "no_classes");
  Tensor status2 = make_tensor(arena, {2}, DType::u32, "status2");
  Recorder rec(ctx);
  using Catch::Matchers::Contains;
  CHECK_THROWS_AS(ops::softmax_xent(rec, dlogits, row_loss, row_correct, logits, short_labels, status), ShapeError);
  CHECK_THROWS_WITH(ops::softmax_xent(rec, dlogits, row_loss, row_correct, logits, short_labels, status),
                    Contains("labels7") && Contains("(7,)") && Contains("(8, 10)"));
  CHECK_THROWS_AS(ops::softmax_xent(rec, dlogits, row_loss, row_correct, logits, float_labels, status), ArgumentError);
  CHECK_THROWS_WITH(ops::softmax_xent(rec, wide_dlogits, row_loss, row_correct, logits, labels, status),
                    Contains("dlogits11") && Contains("(8, 11)"));
  CHECK_THROWS_AS(ops::softmax_xent(rec, wide_dlogits, row_loss, row_correct, logits, labels, status), ShapeError);
  CHECK_THROWS_AS(ops::softmax_xent(rec, dlogits, row_loss, row_correct, flat_logits, labels, status), ShapeError);
  CHECK_THROWS_AS(ops::softmax_xent(rec, dlogits, row_loss, row_correct, no_classes, labels, status), ShapeError);
  Tensor empty = make_tensor(arena, {0}, DType::f32, "none");
  CHECK_THROWS_WITH(ops::softmax_xent(rec, empty, row_loss, row_correct, no_classes, labels, status),
                    Contains("at least one class"));
  CHECK_THROWS_AS(ops::softmax_xent(rec, dlogits, row_loss, row_correct, logits, labels, status2), ShapeError);
  CHECK_THROWS_AS(ops::softmax_xent(rec, dlogits, row_correct, row_loss, logits, labels, status), ArgumentError);
  CHECK_THROWS_WITH(ops::softmax_xent(rec, logits, row_loss, row_correct, logits, labels, status),
                    Contains("overlaps"));

  Tensor totals = make_tensor(arena, {4}, DType::f32, "totals");
  Tensor totals3 = make_tensor(arena, {3}, DType::f32, "totals3");
  CHECK_THROWS_AS(ops::accumulate_metrics(rec, totals3, row_loss, row_correct), ShapeError);
  CHECK_THROWS_AS(ops::accumulate_metrics(rec, totals, row_loss, short_labels), ShapeError);
  CHECK_THROWS_AS(ops::accumulate_metrics(rec, totals, row_loss, labels), ArgumentError);  // i32, not u32
  CHECK(rec.dispatch_count() == 0);
}

TEST_CASE("accumulate_metrics adds the batch sums to the running totals") {
  Context& ctx = test::context();
  for (int64_t B : {int64_t{1}, int64_t{7}, int64_t{129}, int64_t{1000}}) {
    INFO("B = " << B);
    Arena arena(ctx, 1 << 20);
    Tensor totals = make_tensor(arena, {4}, DType::f32, "totals");
    Tensor row_loss = make_tensor(arena, {B}, DType::f32, "row_loss");
    Tensor row_correct = make_tensor(arena, {B}, DType::u32, "row_correct");
    // Multiples of 1/8 below 4: every partial sum is exact in float, so the totals must be exact.
    std::vector<float> losses(static_cast<size_t>(B));
    std::vector<uint32_t> correct(static_cast<size_t>(B));
    double loss_sum = 0, correct_sum = 0;
    for (int64_t i = 0; i < B; ++i) {
      losses[static_cast<size_t>(i)] = static_cast<float>((i * 37) % 32) / 8.0f;
      correct[static_cast<size_t>(i)] = static_cast<uint32_t>((i * 7) % 3 == 0);
      loss_sum += losses[static_cast<size_t>(i)];
      correct_sum += correct[static_cast<size_t>(i)];
    }
    upload(ctx, row_loss, std::span<const float>(losses));
    upload(ctx, row_correct, std::span<const uint32_t>(correct));
    upload(ctx, totals, std::span<const float>(std::vector<float>{0.5f, 1.0f, 2.0f, 0.0f}));

    Recorder rec(ctx);
    ops::accumulate_metrics(rec, totals, row_loss, row_correct);
    rec.finish();
    rec.run(3);  // three steps' worth: the recording is replayed, as a training loop does
    const std::vector<float> want = {static_cast<float>(0.5 + 3 * loss_sum), static_cast<float>(1 + 3 * correct_sum),
                                     static_cast<float>(2 + 3 * B), 0.0f};
    test::expect_close(download_f32(ctx, totals), want, 0, 0, fmt::format("accumulate_metrics totals, B = {}", B));
  }
}

TEST_CASE("softmax_xent then accumulate_metrics: the totals are the reference's sums") {
  Context& ctx = test::context();
  const int64_t B = 129, C = 10;
  Arena arena(ctx, 1 << 20);
  Tensor logits = make_tensor(arena, {B, C}, DType::f32, "logits");
  Tensor labels = make_tensor(arena, {B}, DType::i32, "labels");
  Tensor dlogits = make_tensor(arena, {B, C}, DType::f32, "dlogits");
  Tensor row_loss = make_tensor(arena, {B}, DType::f32, "row_loss");
  Tensor row_correct = make_tensor(arena, {B}, DType::u32, "row_correct");
  Tensor status = make_tensor(arena, {1}, DType::u32, "status");
  Tensor totals = make_tensor(arena, {4}, DType::f32, "totals");
  const std::vector<float> logits_host = test::random_floats(static_cast<size_t>(B * C), 41, -3.0f, 3.0f);
  const std::vector<int32_t> labels_host = random_labels(B, C, 42);
  upload(ctx, logits, std::span<const float>(logits_host));
  upload(ctx, labels, std::span<const int32_t>(labels_host));
  Recorder init(ctx);
  init.fill(totals.slice, 0);
  init.fill(status.slice, 0);
  init.run();

  Recorder step(ctx);
  ops::softmax_xent(step, dlogits, row_loss, row_correct, logits, labels, status);
  ops::accumulate_metrics(step, totals, row_loss, row_correct);
  step.finish();
  CHECK(step.barrier_count() == 1);  // the sums read what the loss wrote
  step.run(3);
  const int b = static_cast<int>(B), c = static_cast<int>(C);
  const double mean = ref::softmax_xent_forward(logits_host.data(), labels_host.data(), b, c);
  const int correct = ref::count_correct(logits_host.data(), labels_host.data(), b, c);
  const std::vector<float> totals_host = download_f32(ctx, totals);
  test::expect_close(totals_host, std::vector<float>{static_cast<float>(3 * mean * B), static_cast<float>(3 * correct),
                                                     static_cast<float>(3 * B), 0.0f},
                     1e-4, 1e-5, "softmax_xent + accumulate_metrics totals (129, 10)");
  CHECK(download_u32(ctx, status)[0] == 0u);
}

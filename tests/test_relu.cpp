// The element-wise ops of ops/elementwise.hpp against their CPU references: ReLU forward and backward
// (reference/relu.hpp) and the bias gradient db = Σ_rows dy (reference/linear.hpp).
//
// ReLU is a select, so GPU and CPU agree bit for bit (tolerance 0). bias_backward sums in f32 on the GPU and
// in double on the CPU: with dyadic inputs every partial sum is exact and the results are equal; with random
// inputs in [-1, 1] and M <= 1000 rows the f32 rounding error stays far below the tolerance 1e-4.
#include "gpu.hpp"

#include <vkdrop/ops/elementwise.hpp>
#include <vkdrop/reference/linear.hpp>
#include <vkdrop/reference/relu.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

using namespace vkdrop;

namespace {

// Random values with exact zeros, negative zeros and a NaN mixed in: ReLU's edge cases.
std::vector<float> relu_inputs(size_t n, uint32_t seed) {
  std::vector<float> v = test::random_floats(n, seed);
  for (size_t i = 0; i < n; i += 5) v[i] = 0.0f;
  for (size_t i = 2; i < n; i += 11) v[i] = -0.0f;
  if (n > 3) v[3] = std::numeric_limits<float>::quiet_NaN();
  return v;
}

}  // namespace

TEST_CASE("relu forward and backward match the reference bit for bit") {
  Context& ctx = test::context();
  for (const Shape& shape : {Shape{1}, Shape{7}, Shape{33}, Shape{129}, Shape{1000}, Shape{37, 29}}) {
    const std::string at = shape_text(shape);
    Arena arena(ctx, 1 << 20);
    const int64_t n = element_count(shape);
    const size_t count = static_cast<size_t>(n);
    Tensor x = make_tensor(arena, shape, DType::f32, "x");    // shape
    Tensor y = make_tensor(arena, shape, DType::f32, "y");    // shape
    Tensor dy = make_tensor(arena, shape, DType::f32, "dy");  // shape
    Tensor dx = make_tensor(arena, shape, DType::f32, "dx");  // shape
    const std::vector<float> xs = relu_inputs(count, 1), dys = test::random_floats(count, 2);
    upload(ctx, x, std::span<const float>(xs));
    upload(ctx, dy, std::span<const float>(dys));

    Recorder rec(ctx);
    ops::relu_forward(rec, y, x);
    ops::relu_backward(rec, dx, dy, y);
    rec.run();

    std::vector<float> want_y(count), want_dx(count);
    ref::relu_forward(want_y.data(), xs.data(), int(n));
    ref::relu_backward(want_dx.data(), dys.data(), xs.data(), int(n));
    test::expect_bits(download_f32(ctx, y), want_y, "relu forward y " + at);
    test::expect_bits(download_f32(ctx, dx), want_dx, "relu backward dx " + at);
  }
}

TEST_CASE("relu's gradient at exactly 0 is 0, and -0 and NaN give +0") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  const std::vector<float> xs = {0.0f, -0.0f, std::numeric_limits<float>::quiet_NaN(), 1e-30f, -1e-30f, 2.0f};
  const std::vector<float> dys(xs.size(), 3.0f);
  Tensor x = make_tensor(arena, {6}, DType::f32, "x"), y = make_tensor(arena, {6}, DType::f32, "y");
  Tensor dy = make_tensor(arena, {6}, DType::f32, "dy"), dx = make_tensor(arena, {6}, DType::f32, "dx");
  upload(ctx, x, std::span<const float>(xs));
  upload(ctx, dy, std::span<const float>(dys));
  Recorder rec(ctx);
  ops::relu_forward(rec, y, x);
  ops::relu_backward(rec, dx, dy, y);
  rec.run();
  test::expect_bits(download_f32(ctx, y), {0.0f, 0.0f, 0.0f, 1e-30f, 0.0f, 2.0f}, "relu forward at the edges");
  test::expect_bits(download_f32(ctx, dx), {0.0f, 0.0f, 0.0f, 3.0f, 0.0f, 3.0f}, "relu backward at the edges");
}

TEST_CASE("relu runs in place") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 20);
  const int64_t n = 1000;
  const size_t count = static_cast<size_t>(n);
  Tensor x = make_tensor(arena, {n}, DType::f32, "x");  // (n): becomes y
  Tensor g = make_tensor(arena, {n}, DType::f32, "g");  // (n): dy, becomes dx
  const std::vector<float> xs = relu_inputs(count, 3), gs = test::random_floats(count, 4);
  upload(ctx, x, std::span<const float>(xs));
  upload(ctx, g, std::span<const float>(gs));
  Recorder rec(ctx);
  ops::relu_forward(rec, x, x);
  ops::relu_backward(rec, g, g, x);
  rec.run();
  std::vector<float> want_y(count), want_dx(count);
  ref::relu_forward(want_y.data(), xs.data(), int(n));
  ref::relu_backward(want_dx.data(), gs.data(), xs.data(), int(n));
  test::expect_bits(download_f32(ctx, x), want_y, "relu forward in place");
  test::expect_bits(download_f32(ctx, g), want_dx, "relu backward in place");
}

TEST_CASE("relu rejects tensors that do not match") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  Tensor a = make_tensor(arena, {4, 8}, DType::f32, "a"), b = make_tensor(arena, {8, 4}, DType::f32, "b");
  Tensor c = make_tensor(arena, {4, 8}, DType::f32, "c");
  Tensor ints = make_tensor(arena, {4, 8}, DType::i32, "ints");
  Recorder rec(ctx);
  CHECK_THROWS_WITH(ops::relu_forward(rec, b, a), Catch::Matchers::Contains("(4, 8)") &&
                                                       Catch::Matchers::Contains("(8, 4)") &&
                                                       Catch::Matchers::Contains("relu_forward"));
  CHECK_THROWS_AS(ops::relu_backward(rec, c, a, b), ShapeError);
  CHECK_THROWS_AS(ops::relu_forward(rec, ints, a), ArgumentError);
  // A partial overlap (y starts one element into x) would read elements already overwritten.
  Tensor shifted{a.slice.sub(4, a.bytes() - 4), {31}, DType::f32, "shifted"};
  Tensor head{a.slice.sub(0, a.bytes() - 4), {31}, DType::f32, "head"};
  CHECK_THROWS_AS(ops::relu_forward(rec, shifted, head), ArgumentError);
  Tensor empty = make_tensor(arena, {0, 8}, DType::f32, "empty");
  ops::relu_forward(rec, empty, empty);
  ops::relu_backward(rec, empty, empty, empty);
  CHECK(rec.dispatch_count() == 0);
}

TEST_CASE("bias_backward sums dy over rows") {
  Context& ctx = test::context();
  struct Case {
    int64_t rows, cols;
  };
  // Fewer than 16 columns (1 x 1, 1000 x 10, 129 x 3) take the split-rows path with its shared-memory
  // reduction on lavapipe, the others one invocation per column; on a GPU every shape splits rows.
  for (Case c : {Case{1, 1}, Case{7, 33}, Case{1000, 129}, Case{128, 1024}, Case{1000, 10}, Case{129, 3},
                 Case{1024, 1024}}) {
    const std::string at = fmt::format("({}, {})", c.rows, c.cols);
    Arena arena(ctx, 8 << 20);
    const size_t count = static_cast<size_t>(c.rows * c.cols);
    Tensor dy = make_tensor(arena, {c.rows, c.cols}, DType::f32, "dy");  // (M, N)
    Tensor db = make_tensor(arena, {c.cols}, DType::f32, "db");          // (N)
    std::vector<float> want(static_cast<size_t>(c.cols));

    // Random values: f32 rounding against the double reference.
    const std::vector<float> random = test::random_floats(count, 5);
    upload(ctx, dy, std::span<const float>(random));
    Recorder rec(ctx);
    ops::bias_backward(rec, db, dy);
    rec.finish();
    rec.run();
    ref::linear_backward<float>(nullptr, nullptr, want.data(), random.data(), nullptr, nullptr, int(c.rows), 0,
                                int(c.cols));
    test::expect_close(download_f32(ctx, db), want, 1e-4, 1e-5, "bias_backward db, random dy " + at);

    // Multiples of 1/8 in [-4, 4]: every partial sum is exact in f32, so the order of summation cannot
    // matter and the result must equal the reference exactly.
    std::vector<float> dyadic(count);
    for (size_t i = 0; i < count; ++i) dyadic[i] = static_cast<float>(static_cast<int>((i * 7919 + 13) % 65) - 32) / 8;
    upload(ctx, dy, std::span<const float>(dyadic));
    rec.run();  // the same recording, new data
    ref::linear_backward<float>(nullptr, nullptr, want.data(), dyadic.data(), nullptr, nullptr, int(c.rows), 0,
                                int(c.cols));
    test::expect_close(download_f32(ctx, db), want, 0, 0, "bias_backward db, dyadic dy " + at);
  }
}

TEST_CASE("bias_backward splits many rows over workgroups: exact on dyadic values, the same bits every run") {
  // A conv's bias gradient (32 columns over 100 352 positions), and row counts no slice divides evenly.
  CHECK(ops::bias_backward_max_split(100352, 32) == 64);
  CHECK(ops::bias_backward_max_split(1000, 32) == 1);  // too few rows to split
  CHECK(ops::bias_backward_partials_elements(20003, 5) == 19 * 8);  // 5 columns rounded up to quads
  Context& ctx = test::context();
  const bool idle_cores = !ctx.info().is_cpu() || std::thread::hardware_concurrency() >= 2;
  struct Case {
    int64_t rows, cols;
  };
  for (Case c : {Case{100352, 32}, Case{20003, 5}, Case{5000, 17}}) {
    const std::string at = fmt::format("({}, {}), rows split", c.rows, c.cols);
    Arena arena(ctx, 16 << 20);
    const size_t count = static_cast<size_t>(c.rows * c.cols);
    Tensor dy = make_tensor(arena, {c.rows, c.cols}, DType::f32, "dy");  // (M, N)
    Tensor db = make_tensor(arena, {c.cols}, DType::f32, "db");          // (N)
    Tensor partials = make_tensor(arena, {ops::bias_backward_partials_elements(c.rows, c.cols)}, DType::f32, "partials");
    std::vector<float> want(static_cast<size_t>(c.cols));
    Recorder rec(ctx);
    rec.fill(partials.slice, 0x7fc00000u);  // NaN: a slice the first pass misses cannot pass
    ops::bias_backward(rec, db, dy, &partials);
    if (idle_cores) CHECK(rec.dispatch_count() == 2);  // the slices, then their sum
    rec.finish();

    // Multiples of 1/8 in [-4, 4]: every partial sum is exact, so any order of summation gives the reference.
    std::vector<float> dyadic(count);
    for (size_t i = 0; i < count; ++i) dyadic[i] = static_cast<float>(static_cast<int>((i * 7919 + 13) % 65) - 32) / 8;
    upload(ctx, dy, std::span<const float>(dyadic));
    rec.run();
    ref::linear_backward<float>(nullptr, nullptr, want.data(), dyadic.data(), nullptr, nullptr, int(c.rows), 0,
                                int(c.cols));
    test::expect_close(download_f32(ctx, db), want, 0, 0, "bias_backward db, dyadic dy " + at);

    // Random values: the same bits on a second run of the same recording.
    const std::vector<float> random = test::random_floats(count, 6);
    upload(ctx, dy, std::span<const float>(random));
    rec.run();
    const std::vector<float> once = download_f32(ctx, db);
    rec.run();
    test::expect_bits(download_f32(ctx, db), once, "bias_backward db, random dy, run again " + at);
  }
  Arena arena(ctx, 1 << 20);
  Tensor dy = make_tensor(arena, {20003, 5}, DType::f32, "dy"), db = make_tensor(arena, {5}, DType::f32, "db");
  Tensor small = make_tensor(arena, {100}, DType::f32, "partials");
  Recorder rec(ctx);
  CHECK_THROWS_WITH(ops::bias_backward(rec, db, dy, &small),
                    Catch::Matchers::Contains("partials (100,) has 100 elements") && Catch::Matchers::Contains("needs 152"));
}

TEST_CASE("bias_backward covers more columns than the device has workgroups for") {
  Context& ctx = test::context();
  // 2.1M columns need more than 65535 workgroups of 32 columns: the shader's grid-stride loop over column
  // blocks takes the rest. Small integers keep the sums exact.
  const int64_t rows = 2, cols = 2'100'001;
  Arena arena(ctx, 64 << 20);
  Tensor dy = make_tensor(arena, {rows, cols}, DType::f32, "dy");  // (2, 2100001)
  Tensor db = make_tensor(arena, {cols}, DType::f32, "db");        // (2100001)
  std::vector<float> dys(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < dys.size(); ++i) dys[i] = static_cast<float>(i % 13) - 6.0f;
  upload(ctx, dy, std::span<const float>(dys));
  Recorder rec(ctx);
  ops::bias_backward(rec, db, dy);
  rec.run();
  std::vector<float> want(static_cast<size_t>(cols));
  ref::linear_backward<float>(nullptr, nullptr, want.data(), dys.data(), nullptr, nullptr, int(rows), 0, int(cols));
  test::expect_close(download_f32(ctx, db), want, 0, 0, "bias_backward db (2, 2100001)");
}

TEST_CASE("bias_backward of zero rows is zero, and bad shapes are rejected") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  Tensor db = make_tensor(arena, {5}, DType::f32, "db");  // (5)
  const std::vector<float> junk(5, 7.0f);
  upload(ctx, db, std::span<const float>(junk));
  Tensor no_rows = make_tensor(arena, {0, 5}, DType::f32, "dy");  // (0, 5)
  Recorder rec(ctx);
  ops::bias_backward(rec, db, no_rows);
  rec.run();
  CHECK(download_f32(ctx, db) == std::vector<float>(5, 0.0f));

  Tensor dy = make_tensor(arena, {4, 5}, DType::f32, "dy");  // (4, 5)
  Tensor flat = make_tensor(arena, {20}, DType::f32, "flat");
  Tensor db4 = make_tensor(arena, {4}, DType::f32, "db4");
  Recorder bad(ctx);
  CHECK_THROWS_WITH(ops::bias_backward(bad, db, flat), Catch::Matchers::Contains("(M, N)") &&
                                                           Catch::Matchers::Contains("(20,)"));
  CHECK_THROWS_WITH(ops::bias_backward(bad, db4, dy), Catch::Matchers::Contains("(4, 5)") &&
                                                          Catch::Matchers::Contains("(5,)") &&
                                                          Catch::Matchers::Contains("(4,)"));
}

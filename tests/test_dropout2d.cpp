// Channel-wise dropout (ops::dropout2d_*) against its CPU reference (reference/dropout2d.hpp), bit for
// bit (the same reasoning as test_dropout.cpp: integer keep decisions, the same f32 product), plus the
// property that makes it Dropout2d: all elements of a channel share one fate.
#include "gpu.hpp"

#include <vkdrop/ops/dropout.hpp>
#include <vkdrop/reference/dropout2d.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <cmath>
#include <cstring>
#include <limits>

using namespace vkdrop;

namespace {

constexpr uint64_t k_seed = 0xfeed'beef'0000'0042ull;
constexpr uint64_t k_step = (uint64_t{3} << 32) + 17;
constexpr uint32_t k_layer = 2;

// Channels N*C and elements per channel S of an (N, C, H, W) or (N, C, L) shape.
int channels_of(const Shape& s) { return int(s[0] * s[1]); }
int spatial_of(const Shape& s) { return int(element_count(s) / (s[0] * s[1])); }

// x, y, dy, dx of one shape and the step counter, in one arena.
struct Problem {
  Arena arena;
  Tensor x, y, dy, dx, step;
  Problem(Context& ctx, const Shape& shape)
      : arena(ctx, static_cast<uint64_t>(element_count(shape)) * 16 + (1 << 16)),
        x(make_tensor(arena, shape, DType::f32, "x")),    // (N, C, H, W) or (N, C, L)
        y(make_tensor(arena, shape, DType::f32, "y")),    // same
        dy(make_tensor(arena, shape, DType::f32, "dy")),  // same
        dx(make_tensor(arena, shape, DType::f32, "dx")),  // same
        step(make_tensor(arena, {2}, DType::u32, "step"))  // (2)
  {
    const std::vector<uint32_t> words = {static_cast<uint32_t>(k_step), static_cast<uint32_t>(k_step >> 32)};
    upload(ctx, step, std::span<const uint32_t>(words));
  }
};

}  // namespace

TEST_CASE("dropout2d forward and backward match the reference bit for bit") {
  Context& ctx = test::context();
  // The last two span several workgroups, so that runs of work items cross channel quads and workgroups.
  for (const Shape& shape : {Shape{2, 3, 5, 7}, Shape{8, 16, 4, 4}, Shape{3, 5, 11}, Shape{1, 1, 1}, Shape{4, 9, 1},
                             Shape{5, 7, 3, 1}, Shape{33, 7, 9, 5}, Shape{3, 17, 6, 6}}) {
    Problem pr(ctx, shape);
    const size_t count = static_cast<size_t>(element_count(shape));
    const std::vector<float> xs = test::random_floats(count, 21), dys = test::random_floats(count, 22);
    upload(ctx, pr.x, std::span<const float>(xs));
    upload(ctx, pr.dy, std::span<const float>(dys));
    for (DropoutScaling scaling : {DropoutScaling::Inverted, DropoutScaling::Vanilla}) {
      for (bool training : {true, false}) {
        const ops::DropoutConfig config{0.4, scaling, k_seed, k_layer};
        const std::string what = fmt::format("{}, {}, {}", shape_text(shape),
                                             scaling == DropoutScaling::Inverted ? "inverted" : "vanilla",
                                             training ? "train" : "eval");
        Recorder rec(ctx);
        ops::dropout2d_forward(rec, pr.y, pr.x, config, training, pr.step);
        ops::dropout2d_backward(rec, pr.dx, pr.dy, config, pr.step);
        rec.run();
        std::vector<float> want_y(count), want_dx(count);
        const int N = int(shape[0]), C = int(shape[1]), S = spatial_of(shape);
        ref::dropout2d_forward(want_y.data(), xs.data(), N, C, S, config.p, scaling, training, k_seed, k_step, k_layer);
        ref::dropout2d_backward(want_dx.data(), dys.data(), N, C, S, config.p, scaling, k_seed, k_step, k_layer);
        test::expect_bits(download_f32(ctx, pr.y), want_y, "dropout2d forward y, " + what);
        test::expect_bits(download_f32(ctx, pr.dx), want_dx, "dropout2d backward dx, " + what);
      }
    }
  }
}

TEST_CASE("dropout2d's two kernels, a GPU's and a CPU device's loop-free one, give the reference's bits") {
  Context& ctx = test::context();
  // Channels of whole quads (S % 4 == 0), where CPU devices run dropout2d_sets.comp: quads per channel even (its
  // _u64 twin where the device has 64-bit integers) and odd, a channel's last set of four quads partial or not,
  // the last channel quad partial or not, one channel quad and many workgroups.
  for (const Shape& shape : {Shape{8, 16, 4, 4}, Shape{3, 17, 6, 6}, Shape{5, 3, 4, 6}, Shape{33, 7, 8, 8},
                             Shape{2, 2, 4}, Shape{4, 3, 28, 28}, Shape{6, 5, 14, 14}, Shape{63, 35, 8, 8}}) {
    Problem pr(ctx, shape);
    const size_t count = static_cast<size_t>(element_count(shape));
    const std::vector<float> xs = test::random_floats(count, 23);
    upload(ctx, pr.x, std::span<const float>(xs));
    const ops::DropoutConfig config{0.4, DropoutScaling::Inverted, k_seed, k_layer};
    std::vector<float> want(count);
    const int N = int(shape[0]), C = int(shape[1]), S = spatial_of(shape);
    ref::dropout2d_forward(want.data(), xs.data(), N, C, S, config.p, config.scaling, true, k_seed, k_step, k_layer);
    for (bool loop_free : {false, true}) {
      upload(ctx, pr.y, std::span<const float>(std::vector<float>(count, -7.0f)));
      Recorder rec(ctx);
      ops::dropout2d_forward(rec, pr.y, pr.x, config, pr.step, loop_free);
      rec.run();
      test::expect_bits(download_f32(ctx, pr.y), want,
                        fmt::format("dropout2d forward, {}, loop_free = {}", shape_text(shape), loop_free));
    }
  }
  // The loop-free kernel takes channels of whole quads only.
  Problem odd(ctx, Shape{2, 3, 5});
  Recorder rec(ctx);
  CHECK_THROWS_WITH(ops::dropout2d_forward(rec, odd.y, odd.x, ops::DropoutConfig{0.4}, odd.step, true),
                    Catch::Matchers::Contains("multiple of 4 elements per channel"));
}

TEST_CASE("dropout2d drops whole channels, at rate p, in place too") {
  Context& ctx = test::context();
  // 2^20 channels of 3 elements, so the per-channel keep rate is measured over 10^6 draws.
  const Shape shape{1024, 1024, 3};
  const int channels = channels_of(shape), spatial = spatial_of(shape);
  Problem pr(ctx, shape);
  const size_t count = static_cast<size_t>(element_count(shape));
  const std::vector<float> xs = test::random_floats(count, 23, 0.5f, 1.5f);  // no zeros
  for (double p : {0.1, 0.5, 0.9}) {
    upload(ctx, pr.x, std::span<const float>(xs));
    Recorder rec(ctx);
    ops::dropout2d_forward(rec, pr.x, pr.x, {p, DropoutScaling::Inverted, k_seed, k_layer}, true, pr.step);
    rec.run();
    const std::vector<float> y = download_f32(ctx, pr.x);
    int64_t kept = 0, split = 0;
    for (int c = 0; c < channels; ++c) {
      int kept_here = 0;
      for (int s = 0; s < spatial; ++s) kept_here += y[size_t(c) * size_t(spatial) + size_t(s)] != 0.0f;
      split += kept_here != 0 && kept_here != spatial;
      kept += kept_here == spatial;
    }
    CHECK(split == 0);  // every channel all kept or all dropped
    const double nd = channels, sigma = std::sqrt(nd * p * (1 - p));
    INFO(fmt::format("p = {}: kept {} of {} channels, expected {:.0f} +- {:.0f} (1 sigma)", p, kept, channels,
                     nd * (1 - p), sigma));
    CHECK(std::abs(static_cast<double>(kept) - nd * (1 - p)) <= 4 * sigma);
    std::vector<float> want(count);
    ref::dropout2d_forward(want.data(), xs.data(), int(shape[0]), int(shape[1]), spatial, p,
                           DropoutScaling::Inverted, true, k_seed, k_step, k_layer);
    test::expect_bits(y, want, fmt::format("dropout2d in place, p = {}", p));
  }
}

TEST_CASE("dropout2d with p = 0 is the identity, with p = 1 exact zeros even for inf and NaN") {
  Context& ctx = test::context();
  const Shape shape{3, 5, 4, 3};
  Problem pr(ctx, shape);
  const size_t count = static_cast<size_t>(element_count(shape));
  std::vector<float> xs = test::random_floats(count, 24);
  xs[0] = std::numeric_limits<float>::infinity();
  xs[13] = std::numeric_limits<float>::quiet_NaN();
  xs[count - 1] = -std::numeric_limits<float>::infinity();
  upload(ctx, pr.x, std::span<const float>(xs));
  upload(ctx, pr.dy, std::span<const float>(xs));
  for (DropoutScaling scaling : {DropoutScaling::Inverted, DropoutScaling::Vanilla}) {
    Recorder keep_all(ctx);
    ops::dropout2d_forward(keep_all, pr.y, pr.x, {0.0, scaling, k_seed, k_layer}, true, pr.step);
    keep_all.run();
    test::expect_bits(download_f32(ctx, pr.y), xs, "dropout2d p = 0");
    Recorder drop_all(ctx);
    ops::dropout2d_forward(drop_all, pr.y, pr.x, {1.0, scaling, k_seed, k_layer}, true, pr.step);
    ops::dropout2d_backward(drop_all, pr.dx, pr.dy, {1.0, scaling, k_seed, k_layer}, pr.step);
    drop_all.run();
    const std::vector<float> zeros(count, 0.0f);
    test::expect_bits(download_f32(ctx, pr.y), zeros, "dropout2d p = 1, forward");
    test::expect_bits(download_f32(ctx, pr.dx), zeros, "dropout2d p = 1, backward");
  }
}

TEST_CASE("dropout2d rejects inputs that are not (N, C, H, W) or (N, C, L), and a bad p") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  Tensor step = make_tensor(arena, {2}, DType::u32, "step");
  Tensor rank2 = make_tensor(arena, {4, 6}, DType::f32, "rank2");
  Tensor rank5 = make_tensor(arena, {1, 2, 2, 2, 3}, DType::f32, "rank5");
  Tensor a = make_tensor(arena, {2, 3, 4}, DType::f32, "a");
  Tensor b = make_tensor(arena, {2, 4, 3}, DType::f32, "b");
  const ops::DropoutConfig ok{0.5, DropoutScaling::Inverted, k_seed, k_layer};
  Recorder rec(ctx);
  CHECK_THROWS_WITH(ops::dropout2d_forward(rec, rank2, rank2, ok, true, step),
                    Catch::Matchers::Contains("(N, C, H, W) or (N, C, L)") && Catch::Matchers::Contains("(4, 6)"));
  CHECK_THROWS_AS(ops::dropout2d_forward(rec, rank2, rank2, ok, false, step), ShapeError);
  CHECK_THROWS_AS(ops::dropout2d_backward(rec, rank2, rank2, ok, step), ShapeError);
  CHECK_THROWS_AS(ops::dropout2d_forward(rec, rank5, rank5, ok, true, step), ShapeError);
  CHECK_THROWS_WITH(ops::dropout2d_forward(rec, b, a, ok, true, step),
                    Catch::Matchers::Contains("(2, 3, 4)") && Catch::Matchers::Contains("(2, 4, 3)"));
  CHECK_THROWS_AS(ops::dropout2d_backward(rec, b, a, ok, step), ShapeError);
  for (double p : {-0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    INFO("p = " << p);
    CHECK_THROWS_WITH(ops::dropout2d_forward(rec, a, a, {p, DropoutScaling::Inverted, k_seed, k_layer}, true, step),
                      Catch::Matchers::Contains("dropout2d_forward") && Catch::Matchers::Contains("[0, 1]"));
    CHECK_THROWS_AS(ops::dropout2d_backward(rec, a, a, {p, DropoutScaling::Vanilla, k_seed, k_layer}, step),
                    ArgumentError);
  }
  Tensor empty = make_tensor(arena, {0, 3, 4, 4}, DType::f32, "empty");
  ops::dropout2d_forward(rec, empty, empty, ok, true, step);
  CHECK(rec.dispatch_count() == 0);
}

// Batch normalization (ops/batch_norm.hpp for (N, C), (N, C, L) and (N, C, H, W); layers/batch_norm2d.hpp)
// against reference/batch_norm.hpp.
//
// Tolerances, GPU (float) against the reference (double) on the same float inputs, |x|, |weight|, |bias| <= 3 and
// |dy| <= 1. Forward: atol 2e-6 + rtol 4e-6, a few ULP of y (|y| < 10). The mean and the sum of squares are tree
// sums of up to 1155 values (about M/WG + log2 WG roundings on any path, each relative to a partial sum), the
// inverse square root is within 2 ULP, and the affine step rounds twice; lavapipe's worst is 2 ULP (9.5e-7 at
// |y| = 7). Backward: dweight and dbias are such sums of up to 1155 terms below 3 in magnitude, within rtol 1e-5
// of sums up to 21 (lavapipe: 1.4e-6 relative at worst); dx is a few roundings of terms below 2, atol 2e-6
// (lavapipe: 2.4e-7). With two values per channel dx is about 1e-3, what the eps term leaves of three cancelling
// terms of size 1, so there it is held to atol alone. Finite differences: the default step 1e-4 and fd_tol 1e-5
// (the forward is smooth: 1/sqrt of a variance far from 0 for inputs drawn in [-3, 3]).
#include "batch_norm_model.hpp"
#include "op_check.hpp"
#include "synthetic_images.hpp"

#include <vkdrop/layers/batch_norm2d.hpp>
#include <vkdrop/layers/flatten.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/relu.hpp>
#include <vkdrop/ops/batch_norm.hpp>
#include <vkdrop/reference/batch_norm.hpp>
#include <vkdrop/runtime/error.hpp>

#include <cmath>
#include <memory>
#include <vector>

using namespace vkdrop;
using Catch::Matchers::Contains;
using test::Values;
using Floats = std::vector<float>;

namespace {

constexpr float k_eps = 1e-5f, k_momentum = 0.1f;  // PyTorch's defaults, as the GPU gets them

// x as (N, C, L).
struct NCL {
  int64_t N, C, L;
};
NCL ncl(const Shape& s) { return {s[0], s[1], element_count(s) / (s[0] * s[1])}; }

// The training forward in double: y, and what backward needs.
struct Forward {
  Values y, save_mean, save_invstd, running_mean, running_var;
  double tracked = 0;
};
Forward reference_training(const Values& x, const Values& w, const Values& b, const Shape& shape) {
  const NCL d = ncl(shape);
  const size_t C = size_t(d.C);
  Forward f{Values(x.size()), Values(C), Values(C), Values(C, 0.0), Values(C, 1.0)};
  ref::batch_norm_forward_training(f.y.data(), f.save_mean.data(), f.save_invstd.data(), f.running_mean.data(),
                                   f.running_var.data(), &f.tracked, x.data(), w.data(), b.data(), d.N, d.C, d.L,
                                   double(k_eps), double(k_momentum));
  return f;
}

// The GPU forward keeps the batch statistics here for the GPU backward of the same case.
struct Saved {
  std::unique_ptr<Arena> arena;
  Tensor save_mean, save_invstd;
};

Tensor filled(Arena& arena, Context& ctx, const Shape& shape, float value, const std::string& name) {
  Tensor t = make_tensor(arena, shape, DType::f32, name);
  upload(ctx, t, std::span<const float>(std::vector<float>(size_t(t.numel()), value)));
  return t;
}

// The training forward and its backward, inputs x, weight and bias.
test::OpSpec batch_norm_spec() {
  test::OpSpec s;
  s.name = "batch_norm (training)";
  s.inputs = {"x", "weight", "bias"};
  s.reference_forward = [](const std::vector<Values>& x, const std::vector<Shape>& shapes) {
    return reference_training(x[0], x[1], x[2], shapes[0]).y;
  };
  s.reference_backward = [](const std::vector<Values>& x, const Values&, const Values& dy,
                            const std::vector<Shape>& shapes) {
    const Forward f = reference_training(x[0], x[1], x[2], shapes[0]);
    const NCL d = ncl(shapes[0]);
    Values dx(x[0].size()), dw(x[1].size()), db(x[2].size());
    ref::batch_norm_backward(dx.data(), dw.data(), db.data(), dy.data(), x[0].data(), x[1].data(), f.save_mean.data(),
                             f.save_invstd.data(), d.N, d.C, d.L);
    return std::vector<Values>{dx, dw, db};
  };
  auto saved = std::make_shared<Saved>();
  s.forward = [saved](Recorder& rec, const Tensor& y, const std::vector<Tensor>& x) {
    Context& ctx = rec.context();
    if (!saved->arena) saved->arena = std::make_unique<Arena>(ctx, 1 << 20);
    const Shape channels{x[0].dim(1)};
    saved->save_mean = make_tensor(*saved->arena, channels, DType::f32, "save_mean");
    saved->save_invstd = make_tensor(*saved->arena, channels, DType::f32, "save_invstd");
    const Tensor running_mean = filled(*saved->arena, ctx, channels, 0.0f, "running_mean");
    const Tensor running_var = filled(*saved->arena, ctx, channels, 1.0f, "running_var");
    const Tensor tracked = filled(*saved->arena, ctx, {}, 0.0f, "num_batches_tracked");
    ops::batch_norm_forward_training(rec, y, saved->save_mean, saved->save_invstd, running_mean, running_var, tracked,
                                     x[0], x[1], x[2], k_eps, k_momentum);
  };
  s.backward = [saved](Recorder& rec, const std::vector<Tensor>& dx, const Tensor& dy, const std::vector<Tensor>& x,
                       const Tensor&) {
    ops::batch_norm_backward(rec, dx[0], dx[1], dx[2], dy, x[0], x[1], saved->save_mean, saved->save_invstd);
  };
  s.atol = 2e-6;
  s.rtol = 4e-6;
  s.grad_atol = 2e-6;
  s.grad_rtol = 1e-5;
  return s;
}

std::vector<Shape> with_channels(const Shape& x) { return {x, {x[1]}, {x[1]}}; }

}  // namespace

TEST_CASE("batch_norm training forward and backward over odd shapes") {
  // (N, C, H, W) with batch 1 and 33, channels 1, 3 and 17, H × W = 5 × 7 (up to 1155 values per channel, more
  // than a workgroup); planes of 99, 144 and 272 values, at least a workgroup wide (64 on a CPU device, 256 on a
  // GPU), which normalize and dx take plane by plane instead of as one flat loop (on a CPU device 144 / 4 = 36
  // quads with a workgroup of as many invocations); (N, C) and (N, C, L) as BatchNorm1d gives them, down to 2
  // values per channel.
  test::check_op(batch_norm_spec(), {with_channels({1, 3, 5, 7}), with_channels({33, 3, 5, 7}), with_channels({2, 17, 4, 6}),
                                     with_channels({3, 2, 9, 11}), with_channels({2, 3, 12, 12}), with_channels({2, 3, 16, 17}),
                                     with_channels({33, 1, 1, 1}), with_channels({2, 1, 5, 7}), with_channels({33, 17}),
                                     with_channels({1, 3, 35}), with_channels({7, 5, 3}), with_channels({2, 3})});
}

TEST_CASE("batch_norm training moves the running statistics as PyTorch does, after one and after several steps") {
  Context& ctx = test::context();
  const Shape shape{5, 3, 4, 6};
  const NCL d = ncl(shape);
  const size_t C = size_t(d.C), n = size_t(element_count(shape));
  const std::vector<float> weight = test::random_floats(C, 40, 0.5f, 2.0f), bias = test::random_floats(C, 41);
  // From PyTorch's initial state, and from state a checkpoint could hold, with momentum 0.1, 0.25, 0 (the running
  // statistics stay) and 1 (they become the last batch's, the variance unbiased).
  struct Start {
    std::vector<float> mean, var;
    float tracked;
    float momentum;
  };
  for (const Start& start : {Start{{0, 0, 0}, {1, 1, 1}, 0, k_momentum}, Start{{0.5f, -1, 2}, {2, 0.25f, 3}, 7, 0.25f},
                             Start{{0.5f, -1, 2}, {2, 0.25f, 3}, 7, 0.0f}, Start{{0.5f, -1, 2}, {2, 0.25f, 3}, 7, 1.0f}}) {
    for (const int steps : {1, 4}) {
      const std::string what = fmt::format("momentum {} after {} step(s) from num_batches_tracked {}", start.momentum, steps,
                                           start.tracked);
      INFO(what);
      Arena arena(ctx, 1 << 20);
      Tensor w = make_tensor(arena, {d.C}, DType::f32, "weight"), b = make_tensor(arena, {d.C}, DType::f32, "bias");
      Tensor rm = make_tensor(arena, {d.C}, DType::f32, "running_mean");
      Tensor rv = make_tensor(arena, {d.C}, DType::f32, "running_var");
      Tensor sm = make_tensor(arena, {d.C}, DType::f32, "save_mean");
      Tensor si = make_tensor(arena, {d.C}, DType::f32, "save_invstd");
      Tensor tracked = filled(arena, ctx, {}, start.tracked, "num_batches_tracked");
      upload(ctx, w, std::span<const float>(weight));
      upload(ctx, b, std::span<const float>(bias));
      upload(ctx, rm, std::span<const float>(start.mean));
      upload(ctx, rv, std::span<const float>(start.var));
      // Each step its own batch, all in one recording: the steps read the running statistics the previous wrote.
      std::vector<std::vector<float>> xs;
      std::vector<Tensor> ys;
      Recorder rec(ctx);
      for (int k = 0; k < steps; ++k) {
        xs.push_back(test::random_floats(n, 50 + uint32_t(k), -2.0f + float(k), 3.0f));
        Tensor x = make_tensor(arena, shape, DType::f32, "x");
        upload(ctx, x, std::span<const float>(xs.back()));
        ys.push_back(make_tensor(arena, shape, DType::f32, "y"));
        ops::batch_norm_forward_training(rec, ys.back(), sm, si, rm, rv, tracked, x, w, b, k_eps, start.momentum);
      }
      rec.run();

      Values mean(start.mean.begin(), start.mean.end()), var(start.var.begin(), start.var.end());
      Values y(n), save_mean(C), save_invstd(C), wd(weight.begin(), weight.end()), bd(bias.begin(), bias.end());
      double count = start.tracked;
      for (int k = 0; k < steps; ++k) {
        const Values x(xs[size_t(k)].begin(), xs[size_t(k)].end());
        ref::batch_norm_forward_training(y.data(), save_mean.data(), save_invstd.data(), mean.data(), var.data(), &count,
                                         x.data(), wd.data(), bd.data(), d.N, d.C, d.L, double(k_eps),
                                         double(start.momentum));
      }
      test::expect_close(download_f32(ctx, rm), test::to_float(mean), 1e-6, 1e-6, "running_mean, " + what);
      test::expect_close(download_f32(ctx, rv), test::to_float(var), 1e-6, 1e-6, "running_var, " + what);
      CHECK(download_f32(ctx, tracked) == std::vector<float>{start.tracked + float(steps)});
      test::expect_close(download_f32(ctx, sm), test::to_float(save_mean), 1e-6, 1e-6, "save_mean, " + what);
      test::expect_close(download_f32(ctx, si), test::to_float(save_invstd), 1e-6, 1e-6, "save_invstd, " + what);
      if (start.momentum == 0.0f) {
        CHECK(download_f32(ctx, rm) == start.mean);
        CHECK(download_f32(ctx, rv) == start.var);
      }
    }
  }
}

TEST_CASE("batch_norm at the edges: two values per channel, a constant channel, eval by hand") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  auto tensor = [&](const Shape& shape, const std::vector<float>& values, const std::string& name) {
    Tensor t = make_tensor(arena, shape, DType::f32, name);
    upload(ctx, t, std::span<const float>(values));
    return t;
  };
  // x (2, 2): channel 0 holds {1, 3}: mean 2, biased variance 1 (normalises), unbiased variance 2 (moves
  // running_var from 1 to 0.9 · 1 + 0.1 · 2 = 1.1, where the biased one would give 1.0). y = ±1/sqrt(1 + eps) · 2 + 0.5.
  // Channel 1 is constant 0.5: x − mean = 0, so y = bias = -1 whatever 1/sqrt(eps) is, and running_var
  // becomes 0.9.
  Tensor x = tensor({2, 2}, {1, 0.5f, 3, 0.5f}, "x"), w = tensor({2}, {2, 3}, "weight"), b = tensor({2}, {0.5f, -1}, "bias");
  Tensor rm = tensor({2}, {0, 0}, "running_mean"), rv = tensor({2}, {1, 1}, "running_var");
  Tensor tracked = tensor({}, {0}, "tracked");
  Tensor sm = make_tensor(arena, {2}, DType::f32, "save_mean"), si = make_tensor(arena, {2}, DType::f32, "save_invstd");
  Tensor y = make_tensor(arena, {2, 2}, DType::f32, "y");
  Tensor dy = tensor({2, 2}, {1, 4, -1, 5}, "dy"), dx = make_tensor(arena, {2, 2}, DType::f32, "dx");
  Tensor dw = make_tensor(arena, {2}, DType::f32, "dweight"), db = make_tensor(arena, {2}, DType::f32, "dbias");
  // Eval by hand: running_mean 1, running_var 3, eps 1: y = (x − 1) / 2 · weight + bias.
  Tensor ex = tensor({1, 2, 2}, {5, -1, 1, 3}, "eval x"), ey = make_tensor(arena, {1, 2, 2}, DType::f32, "eval y");
  Tensor erm = tensor({2}, {1, 1}, "eval running_mean"), erv = tensor({2}, {3, 3}, "eval running_var");
  Recorder rec(ctx);
  ops::batch_norm_forward_training(rec, y, sm, si, rm, rv, tracked, x, w, b, k_eps, k_momentum);
  ops::batch_norm_backward(rec, dx, dw, db, dy, x, w, sm, si);
  ops::batch_norm_forward_eval(rec, ey, ex, erm, erv, w, b, 1.0f);
  rec.run();
  // Vulkan's division and inversesqrt are within 2.5 and 2 ULP, so these hand values hold within a few 1e-7.
  const float s = float(2.0 / std::sqrt(1.0 + double(k_eps)));
  test::expect_close(download_f32(ctx, y), Floats{0.5f - s, -1, 0.5f + s, -1}, 1e-6, 1e-6, "y with two values per channel");
  test::expect_close(download_f32(ctx, rv), Floats{1.1f, 0.9f}, 1e-6, 1e-6, "running_var from the unbiased variance");
  test::expect_close(download_f32(ctx, rm), Floats{0.2f, 0.05f}, 1e-6, 1e-6, "running_mean");
  test::expect_close(download_f32(ctx, sm), Floats{2, 0.5f}, 0, 1e-6, "save_mean");
  const Floats invstd = {float(1 / std::sqrt(1.0 + double(k_eps))), float(1 / std::sqrt(double(k_eps)))};
  test::expect_close(download_f32(ctx, si), invstd, 0, 1e-6, "save_invstd");
  CHECK(download_f32(ctx, tracked) == std::vector<float>{1});
  // Backward: channel 0 has x̂ = ∓i with i = 1/sqrt(1 + eps) and dy = {1, -1}: dbias 0, dweight -2i, and
  // dx = 2i · (dy − x̂ · (-2i) / 2) = ±2i · (1 − i²), about ±2e-5 (the eps term). Channel 1 has x̂ = 0 and
  // dy = {4, 5}: dbias 9, dweight 0, dx = 3 / sqrt(eps) · (dy − 4.5) = ∓1.5 / sqrt(eps).
  const double i = 1 / std::sqrt(1.0 + double(k_eps));
  test::expect_close(download_f32(ctx, db), Floats{0, 9}, 1e-6, 0, "dbias");
  test::expect_close(download_f32(ctx, dw), Floats{float(-2 * i), 0}, 1e-6, 1e-6, "dweight");
  const float small = float(2 * i * (1 - i * i)), big = float(1.5 / std::sqrt(double(k_eps)));
  test::expect_close(download_f32(ctx, dx), Floats{small, -big, -small, big}, 1e-6, 1e-6, "dx");
  // ex (1, 2, 2): channel 0 holds {5, -1} (weight 2, bias 0.5), channel 1 {1, 3} (weight 3, bias -1).
  test::expect_close(download_f32(ctx, ey), Floats{4.5f, -1.5f, -1, 2}, 1e-6, 1e-6,
                     "eval y = (x - 1) / 2 * weight + bias");
}

TEST_CASE("batch_norm rejects bad arguments") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  auto make = [&](const Shape& shape, const std::string& name, DType dtype = DType::f32) {
    return make_tensor(arena, shape, dtype, name);
  };
  Tensor x = make({4, 3, 5, 7}, "x"), y = make({4, 3, 5, 7}, "y"), w = make({3}, "weight"), b = make({3}, "bias");
  Tensor rm = make({3}, "running_mean"), rv = make({3}, "running_var");
  Tensor sm = make({3}, "save_mean"), si = make({3}, "save_invstd");
  Tensor tracked = make({}, "tracked"), tracked_1 = make({1}, "tracked (1)");
  Tensor tracked_u32 = make({}, "tracked u32", DType::u32);
  Tensor w4 = make({4}, "weight (4)"), x5 = make({1, 3, 1, 5, 7}, "x5"), x1 = make({12}, "x1");
  Tensor single = make({1, 3, 1, 1}, "single"), single_y = make({1, 3, 1, 1}, "single y");
  Tensor dx = make({4, 3, 5, 7}, "dx"), dy = make({4, 3, 5, 7}, "dy"), dw = make({3}, "dweight"), db = make({3}, "dbias");
  Recorder rec(ctx);
  const float e = k_eps, m = k_momentum;
  CHECK_THROWS_WITH(ops::batch_norm_forward_training(rec, y, sm, si, rm, rv, tracked, x, w4, b, e, m),
                    Contains("batch_norm_forward_training: weight 'weight (4)' has shape (4,), expected (3,) (one per "
                             "channel of x (4, 3, 5, 7))"));
  CHECK_THROWS_WITH(ops::batch_norm_forward_training(rec, y, sm, si, rm, rv, tracked, x5, w, b, e, m),
                    Contains("x 'x5' must be (N, C), (N, C, L) or (N, C, H, W), got (1, 3, 1, 5, 7)"));
  CHECK_THROWS_AS(ops::batch_norm_forward_training(rec, x1, sm, si, rm, rv, tracked, x1, w, b, e, m), ShapeError);
  CHECK_THROWS_WITH(ops::batch_norm_forward_training(rec, y, sm, si, rm, rv, tracked_1, x, w, b, e, m),
                    Contains("num_batches_tracked 'tracked (1)' has shape (1,), expected ()"));
  CHECK_THROWS_WITH(ops::batch_norm_forward_training(rec, y, sm, si, rm, rv, tracked_u32, x, w, b, e, m),
                    Contains("'tracked u32' is u32, expected f32"));
  CHECK_THROWS_WITH(ops::batch_norm_forward_training(rec, single_y, sm, si, rm, rv, tracked, single, w, b, e, m),
                    Contains("invalid values per channel = 1") && Contains("(1, 3, 1, 1)"));
  CHECK_THROWS_WITH(ops::batch_norm_forward_training(rec, y, sm, si, rm, rv, tracked, x, w, b, std::nanf(""), m),
                    Contains("invalid eps = nan"));
  CHECK_THROWS_WITH(ops::batch_norm_forward_training(rec, y, sm, si, rm, rv, tracked, x, w, b, e, 1.5f),
                    Contains("invalid momentum = 1.5: expected in [0, 1]"));
  CHECK_THROWS_WITH(ops::batch_norm_forward_training(rec, y, sm, sm, rm, rv, tracked, x, w, b, e, m),
                    Contains("save_mean 'save_mean' overlaps save_invstd 'save_mean'"));
  CHECK_THROWS_AS(ops::batch_norm_forward_training(rec, x, sm, si, rm, rv, tracked, x, w, b, e, m), ArgumentError);
  CHECK_THROWS_AS(ops::batch_norm_forward_eval(rec, y, x, rm, rv, w4, b, e), ShapeError);
  CHECK_THROWS_AS(ops::batch_norm_forward_eval(rec, y, x, rm, rv, w, b, -1.0f), ArgumentError);
  CHECK_THROWS_AS(ops::batch_norm_forward_eval(rec, x, x, rm, rv, w, b, e), ArgumentError);
  Tensor short_dy = make({4, 3, 5, 6}, "short dy");
  CHECK_THROWS_WITH(ops::batch_norm_backward(rec, dx, dw, db, short_dy, x, w, sm, si),
                    Contains("batch_norm_backward: dy 'short dy' has shape (4, 3, 5, 6), expected (4, 3, 5, 7) (as x)"));
  CHECK_THROWS_WITH(ops::batch_norm_backward(rec, short_dy, dw, db, dy, x, w, sm, si),
                    Contains("dx 'short dy'") && Contains("no elements when dL/dx is not wanted"));
  CHECK_THROWS_AS(ops::batch_norm_backward(rec, dx, w4, db, dy, x, w, sm, si), ShapeError);
  CHECK_THROWS_WITH(ops::batch_norm_backward(rec, dy, dw, db, dy, x, w, sm, si), Contains("overlaps"));
  CHECK_THROWS_AS(ops::batch_norm_backward(rec, dx, dw, dw, dy, x, w, sm, si), ArgumentError);
  CHECK(rec.dispatch_count() == 0);
}

TEST_CASE("batch_norm on an empty batch: nothing forward, zero parameter gradients backward") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  Tensor x = make_tensor(arena, {0, 3, 5, 7}, DType::f32, "x"), y = make_tensor(arena, {0, 3, 5, 7}, DType::f32, "y");
  Tensor stats[] = {filled(arena, ctx, {3}, 1, "weight"), filled(arena, ctx, {3}, 0, "bias"),
                    filled(arena, ctx, {3}, 0.5f, "rm"),     filled(arena, ctx, {3}, 2, "rv"),
                    filled(arena, ctx, {3}, 7, "sm"),        filled(arena, ctx, {3}, 7, "si")};
  Tensor tracked = filled(arena, ctx, {}, 4, "tracked");
  Tensor dw = filled(arena, ctx, {3}, std::nanf(""), "dweight"), db = filled(arena, ctx, {3}, std::nanf(""), "dbias");
  Recorder rec(ctx);
  ops::batch_norm_forward_training(rec, y, stats[4], stats[5], stats[2], stats[3], tracked, x, stats[0], stats[1], k_eps,
                                   k_momentum);
  CHECK(rec.dispatch_count() == 0);  // as PyTorch: an empty batch leaves the running statistics alone
  ops::batch_norm_backward(rec, y, dw, db, y, x, stats[0], stats[4], stats[5]);
  rec.run();
  CHECK(download_f32(ctx, dw) == std::vector<float>(3, 0.0f));
  CHECK(download_f32(ctx, db) == std::vector<float>(3, 0.0f));
  CHECK(download_f32(ctx, tracked) == std::vector<float>{4});
}

TEST_CASE("BatchNorm2d: PyTorch's printout and buffers, and bad configurations refused when built") {
  CHECK(BatchNorm2d(32).describe() == "BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  CHECK(BatchNorm2d(3, 1e-3, 0.01).describe() ==
        "BatchNorm2d(3, eps=0.001, momentum=0.01, affine=True, track_running_stats=True)");
  CHECK(BatchNorm2d(3, 0.5, 1).describe() == "BatchNorm2d(3, eps=0.5, momentum=1.0, affine=True, track_running_stats=True)");
  const std::vector<BufferSpec> specs = BatchNorm2d(3).buffers({8, 3, 5, 7});
  std::vector<std::string> names;
  for (const BufferSpec& spec : specs) {
    names.push_back(spec.name);
    CHECK(spec.dtype == DType::f32);
    CHECK_FALSE(spec.max_norm_axis);  // never capped
  }
  CHECK(names == std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked",
                                          "save_mean", "save_invstd"});
  CHECK(specs[0].kind == BufferKind::Parameter);
  CHECK(specs[2].kind == BufferKind::State);
  CHECK(specs[4].kind == BufferKind::State);
  CHECK(specs[4].shape == Shape{});  // PyTorch's num_batches_tracked is 0-d
  CHECK(specs[6].kind == BufferKind::Scratch);
  CHECK(BatchNorm2d(3).output_shape({8, 3, 5, 7}) == Shape{8, 3, 5, 7});
  CHECK(BatchNorm2d(3).output_shape({1, 3, 1, 2}) == Shape{1, 3, 1, 2});  // two values per channel suffice

  CHECK_THROWS_WITH(BatchNorm2d(0), Contains("BatchNorm2d: invalid num_features = 0"));
  CHECK_THROWS_WITH(BatchNorm2d(3, -1e-5), Contains("BatchNorm2d: invalid eps = -1e-05"));
  CHECK_THROWS_AS(BatchNorm2d(3, std::nan("")), ArgumentError);
  CHECK_THROWS_AS(BatchNorm2d(3, 1e39), ArgumentError);  // inf as the float the GPU would get
  CHECK_THROWS_WITH(BatchNorm2d(3, 1e-5, 1.5), Contains("BatchNorm2d: invalid momentum = 1.5"));
  CHECK_THROWS_AS(BatchNorm2d(3, 1e-5, -0.1), ArgumentError);
  CHECK_THROWS_WITH(BatchNorm2d(3).output_shape({8, 3}),
                    Contains("BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True) expects "
                             "(N, C, H, W), got (8, 3)"));
  CHECK_THROWS_WITH(BatchNorm2d(3).output_shape({8, 4, 5, 7}),
                    Contains("expects 3 channels in dimension 1, got (8, 4, 5, 7)"));
  CHECK_THROWS_WITH(BatchNorm2d(3).check_training_input({1, 3, 1, 1}),
                    Contains("expected more than 1 value per channel when training, got input of shape (1, 3, 1, 1)"));
  CHECK(BatchNorm2d(3).output_shape({1, 3, 1, 1}) == Shape{1, 3, 1, 1});  // evaluation takes it

  // A Model refuses these when built, naming the layer and the shapes.
  Context& ctx = test::context();
  const TrainConfig config = test::synthetic_images_config();
  CHECK_THROWS_WITH(Model(ctx, Sequential{BatchNorm2d(2), Flatten(), Linear(16, 4)}, {1, 4, 4}, config),
                    Contains("layer 0 BatchNorm2d(2, eps=1e-05") && Contains("(16, 1, 4, 4)"));
  TrainConfig batch_of_one = test::synthetic_images_config();
  batch_of_one.batch_size = 1;
  CHECK_THROWS_WITH(Model(ctx, Sequential{BatchNorm2d(16), Flatten(), Linear(16, 4)}, {16, 1, 1}, batch_of_one),
                    Contains("layer 0 BatchNorm2d(16") && Contains("more than 1 value per channel") &&
                        Contains("(1, 16, 1, 1)"));
}

TEST_CASE("BatchNorm2d in a model: running statistics of an epoch, eval with them, and a checkpoint round trip") {
  // (2, 2, 4) samples: two channels of 2 × 4.
  test::check_batch_norm_model(Sequential{BatchNorm2d(2), Flatten(), Linear(16, 4)}, {2, 2, 4}, 2, 0, 2);
}

TEST_CASE("a model with a BatchNorm2d layer trains, and its gradient reaches the layer below") {
  const Sequential net{Linear(4, 4), BatchNorm2d(1), ReLU(), Flatten(), Linear(16, 4)};
  const test::SyntheticRun run = test::train_synthetic_images(net, 4);
  CHECK(run.last_loss < run.first_loss);
  CHECK(run.first_weight_change > 0);  // through batch_norm_backward's dx
}

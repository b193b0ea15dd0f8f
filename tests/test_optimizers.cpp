// ops::sgd_step, ops::adam_step and ops::max_norm against reference/optimizers.hpp.
//
// Each optimizer test records one step once and replays it several times, uploading a new gradient, the
// learning rate (hyper) and, for Adam, the step count before each replay, as a training loop does.
// Tolerances: the shader runs the reference's float arithmetic in the same order, but may contract a·b + c
// into one fma and its sqrt and division may differ from the host's by an ulp; over 6 steps the state
// agrees to rtol 1e-5 (atol 1e-7 for values near 0). Adam's bias corrections are computed on the device
// in float (the reference: in double, as PyTorch) but without cancellation, to ~1e-7 relative: the update
// w_new - w_old of weights small enough that their own rounding does not mask it agrees to rtol 1e-5.
#include "gpu.hpp"

#include <vkdrop/ops/optimizers.hpp>
#include <vkdrop/reference/optimizers.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

using namespace vkdrop;

namespace {

constexpr int k_steps = 6;

std::vector<float> difference(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<float> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return d;
}

void upload_hyper(const Tensor& hyper, float lr, float momentum) {
  upload(test::context(), hyper, std::span<const float>(std::vector<float>{lr, momentum, 0.0f, 0.0f}));
}

}  // namespace

TEST_CASE("sgd_step matches torch.optim.SGD step after step") {
  Context& ctx = test::context();
  struct Case {
    float momentum, weight_decay;
    bool nesterov;
  };
  const std::vector<Case> cases = {{0.9f, 1e-4f, false}, {0.9f, 1e-4f, true}, {0.0f, 0.0f, false},
                                   {0.5f, 0.0f, true}};
  for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{1000}, int64_t{4099}}) {
    for (const Case& c : cases) {
      const std::string what = fmt::format("sgd n = {}, momentum {}, wd {}, nesterov {}", n, c.momentum,
                                           c.weight_decay, c.nesterov);
      INFO(what);
      Arena arena(ctx, 1 << 20);
      // A (n/7, 7)-ish weight would do as well: the optimizer sees numel only; keep one 2-D case.
      const Shape shape = n == 7 ? Shape{1, 7} : Shape{n};
      Tensor w = make_tensor(arena, shape, DType::f32, "w"), g = make_tensor(arena, shape, DType::f32, "g"),
             v = make_tensor(arena, shape, DType::f32, "v");
      Tensor hyper = make_tensor(arena, {4}, DType::f32, "hyper");
      const size_t count = static_cast<size_t>(n);
      std::vector<float> w_ref = test::random_floats(count, 1), v_ref(count, 0.0f);
      upload(ctx, w, std::span<const float>(w_ref));
      upload(ctx, v, std::span<const float>(v_ref));

      Recorder rec(ctx);
      ops::sgd_step(rec, w, g, v, hyper, ops::SgdConfig{.weight_decay = c.weight_decay, .nesterov = c.nesterov});
      rec.finish();
      for (int step = 0; step < k_steps; ++step) {
        INFO("step " << step);
        const float lr = 0.1f / static_cast<float>(step + 1);  // a schedule: hyper changes between replays
        const std::vector<float> grads = test::random_floats(count, 100 + static_cast<uint32_t>(step));
        upload(ctx, g, std::span<const float>(grads));
        upload_hyper(hyper, lr, c.momentum);
        rec.run();
        ref::sgd_step(w_ref.data(), grads.data(), v_ref.data(), static_cast<int>(n), lr, c.momentum, c.weight_decay,
                      c.nesterov);
        // The terms are O(1) (gradients in [-1, 1)); a device may contract momentum * v + g into one fma
        // (NVIDIA's compiler does), which rounds differently by up to an ulp of the terms a step, and where
        // the terms nearly cancel that is far more than 1e-5 of the result: atol is 8 ulps of 1.0.
        test::expect_close(download_f32(ctx, w), w_ref, 1e-6, 1e-5, what + ", w");
        test::expect_close(download_f32(ctx, v), v_ref, 1e-6, 1e-5, what + ", v");
      }
    }
  }
}

TEST_CASE("adam_step matches torch.optim.Adam and AdamW with t advancing") {
  Context& ctx = test::context();
  struct Case {
    ops::AdamConfig config;
    const char* name;
  };
  const std::vector<Case> cases = {
      {ops::AdamConfig{}, "Adam"},
      {ops::AdamConfig{.weight_decay = 0.01f}, "Adam wd 0.01"},
      {ops::AdamConfig{.weight_decay = 0.01f, .decoupled = true}, "AdamW wd 0.01"},
      {ops::AdamConfig{.beta1 = 0.0, .beta2 = 0.99, .eps = 1e-6f, .weight_decay = 0.1f, .decoupled = true},
       "AdamW beta1 0, beta2 0.99"},
  };
  for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{1000}}) {
    for (const Case& c : cases) {
      const std::string what = fmt::format("{} n = {}", c.name, n);
      INFO(what);
      Arena arena(ctx, 1 << 20);
      Tensor w = make_tensor(arena, {n}, DType::f32, "w"), g = make_tensor(arena, {n}, DType::f32, "g"),
             m = make_tensor(arena, {n}, DType::f32, "m"), v = make_tensor(arena, {n}, DType::f32, "v");
      Tensor hyper = make_tensor(arena, {4}, DType::f32, "hyper");
      Tensor step = make_tensor(arena, {2}, DType::u32, "step");
      const size_t count = static_cast<size_t>(n);
      // Small weights: their rounding (an ulp of w) stays far below the update, which is compared too.
      std::vector<float> w_ref = test::random_floats(count, 2, -0.01f, 0.01f), m_ref(count, 0.0f), v_ref(count, 0.0f);
      upload(ctx, w, std::span<const float>(w_ref));
      upload(ctx, m, std::span<const float>(m_ref));
      upload(ctx, v, std::span<const float>(v_ref));

      Recorder rec(ctx);
      ops::adam_step(rec, w, g, m, v, hyper, step, c.config);
      rec.finish();
      const ops::AdamConfig& k = c.config;
      for (int t = 1; t <= k_steps; ++t) {
        INFO("t = " << t);
        const float lr = 1e-3f * static_cast<float>(t);  // a warm-up: hyper changes between replays
        const std::vector<float> grads = test::random_floats(count, 200 + static_cast<uint32_t>(t));
        upload(ctx, g, std::span<const float>(grads));
        upload_hyper(hyper, lr, 0.0f);
        upload(ctx, step, std::span<const uint32_t>(std::vector<uint32_t>{static_cast<uint32_t>(t - 1), 0}));
        const std::vector<float> w_before = w_ref;
        rec.run();
        ref::adam_step(w_ref.data(), grads.data(), m_ref.data(), v_ref.data(), static_cast<int>(n), lr, k.beta1,
                       k.beta2, k.eps, k.weight_decay, t, k.decoupled);
        const std::vector<float> w_got = download_f32(ctx, w);
        test::expect_close(w_got, w_ref, 1e-7, 1e-5, what + ", w");
        test::expect_close(download_f32(ctx, m), m_ref, 1e-7, 1e-5, what + ", m");
        test::expect_close(download_f32(ctx, v), v_ref, 1e-9, 1e-5, what + ", v");
        test::expect_close(difference(w_got, w_before), difference(w_ref, w_before), 2e-9, 1e-5,
                           what + ", the update w_new - w_old");
        upload(ctx, w, std::span<const float>(w_ref));  // the next step starts from the same w on both sides
      }
    }
  }
}

TEST_CASE("adam_step reads the 64-bit step count: late steps have no bias correction left") {
  Context& ctx = test::context();
  const int64_t n = 33;
  const size_t count = static_cast<size_t>(n);
  Arena arena(ctx, 1 << 20);
  Tensor w = make_tensor(arena, {n}, DType::f32, "w"), g = make_tensor(arena, {n}, DType::f32, "g"),
         m = make_tensor(arena, {n}, DType::f32, "m"), v = make_tensor(arena, {n}, DType::f32, "v");
  Tensor hyper = make_tensor(arena, {4}, DType::f32, "hyper");
  Tensor step = make_tensor(arena, {2}, DType::u32, "step");
  const std::vector<float> w0 = test::random_floats(count, 3, -0.01f, 0.01f),
                           m0 = test::random_floats(count, 4, -0.1f, 0.1f),
                           v0 = test::random_floats(count, 5, 0.0f, 0.01f), grads = test::random_floats(count, 6);
  upload_hyper(hyper, 1e-3f, 0.0f);
  upload(ctx, g, std::span<const float>(grads));
  // (steps taken as (low, high) words, the t the reference is given)
  const std::vector<std::pair<std::vector<uint32_t>, int>> steps = {
      {{99, 0}, 100}, {{9999, 0}, 10000}, {{5, 1}, 1 << 30}};  // 2^32 + 6: β^t is 0 either way
  for (const auto& [words, t] : steps) {
    INFO("t = " << t);
    upload(ctx, w, std::span<const float>(w0));
    upload(ctx, m, std::span<const float>(m0));
    upload(ctx, v, std::span<const float>(v0));
    upload(ctx, step, std::span<const uint32_t>(words));
    Recorder rec(ctx);
    ops::adam_step(rec, w, g, m, v, hyper, step, ops::AdamConfig{});
    rec.run();
    std::vector<float> w_ref = w0, m_ref = m0, v_ref = v0;
    ref::adam_step(w_ref.data(), grads.data(), m_ref.data(), v_ref.data(), static_cast<int>(n), 1e-3f, 0.9, 0.999,
                   1e-8f, 0.0, t, false);
    const std::vector<float> w_got = download_f32(ctx, w);
    test::expect_close(w_got, w_ref, 1e-7, 1e-5, fmt::format("adam late step t = {}, w", t));
    test::expect_close(difference(w_got, w0), difference(w_ref, w0), 2e-9, 1e-5,
                       fmt::format("adam late step t = {}, the update", t));
  }
  CHECK(download_u32(ctx, step) == std::vector<uint32_t>{5, 1});  // the step count is read, never advanced
}

TEST_CASE("max_norm scales the rows above c to norm c and leaves the others bit for bit") {
  Context& ctx = test::context();
  // Both shaders, each at the device's own workgroup and at one holding several subgroups (on lavapipe's
  // 8-lane subgroups: 32 invocations = 4 subgroups meeting in shared memory).
  struct Variant {
    ops::RowReduction reduction;
    uint32_t workgroup;
  };
  const DeviceInfo& device = ctx.info();
  const uint32_t most = std::min(device.max_workgroup_size[0], device.max_workgroup_invocations);
  std::vector<Variant> variants = {{ops::RowReduction::Auto, 0}, {ops::RowReduction::SharedTree, 0},
                                   {ops::RowReduction::SharedTree, std::min(64u, most)}};
  if (device.subgroup_arithmetic) {
    variants.push_back({ops::RowReduction::Subgroup, 0});
    variants.push_back({ops::RowReduction::Subgroup, std::min(std::max(32u, 4 * device.subgroup_size), most)});
  }
  // The shader each variant must run: Auto takes subgroupAdd wherever the device has it.
  auto expected_shader = [&](ops::RowReduction reduction) {
    const bool subgroup = reduction == ops::RowReduction::Subgroup ||
                          (reduction == ops::RowReduction::Auto && device.subgroup_arithmetic);
    return std::string(subgroup ? "max_norm (subgroupAdd, " : "max_norm (shared tree, ");
  };
  // The last shape has more rows than the device launches workgroups (65535 on lavapipe): the shader's row
  // loop reaches them.
  const int64_t many_rows = std::min<int64_t>(ctx.info().max_workgroup_count[0] + 5, 1 << 17);
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 1},     {7, 33},  {10, 1024},
                                                           {1024, 784}, {3, 129}, {many_rows, 3}};
  uint32_t seed = 10;
  for (auto [rows, cols] : shapes) {
    for (float c : {1.0f, 3.5f}) {
      const std::string what = fmt::format("max_norm w ({}, {}), c = {}", rows, cols, c);
      INFO(what);
      // Rows at 2c, 0.5c, 1.01c, 0.99c and, in row 4, zeros: clearly above or below c, so float rounding of
      // the norm cannot flip the decision.
      std::vector<float> w_host = test::random_floats(static_cast<size_t>(rows * cols), seed++);
      const double targets[] = {2.0, 0.5, 1.01, 0.99, 0.0};
      for (int64_t r = 0; r < rows; ++r) {
        float* row = w_host.data() + r * cols;
        double norm = 0;
        for (int64_t j = 0; j < cols; ++j) norm += double(row[j]) * row[j];
        norm = std::sqrt(norm);
        const double scale = targets[r % 5] * c / norm;
        for (int64_t j = 0; j < cols; ++j) row[j] = static_cast<float>(row[j] * scale);
      }
      std::vector<float> want = w_host;
      ref::max_norm(want.data(), static_cast<int>(rows), static_cast<int>(cols), c);
      Arena arena(ctx, 8 << 20);
      Tensor w = make_tensor(arena, {rows, cols}, DType::f32, "w");
      for (const Variant& variant : variants) {
        INFO("reduction " << static_cast<int>(variant.reduction) << ", workgroup " << variant.workgroup);
        upload(ctx, w, std::span<const float>(w_host));
        Recorder rec(ctx);
        ops::max_norm(rec, w, c, variant.reduction, variant.workgroup);
        const std::string label = rec.dispatch_labels().at(0);
        CHECK_THAT(label, Catch::Matchers::StartsWith(expected_shader(variant.reduction)));
        if (variant.workgroup != 0) {
          CHECK_THAT(label, Catch::Matchers::EndsWith(fmt::format(", {} per row)", variant.workgroup)));
        }
        if (variant.reduction == ops::RowReduction::Auto && device.is_cpu() && device.subgroup_arithmetic) {
          // lavapipe: one subgroup per row, no barrier (the path measured fastest there)
          CHECK(label == fmt::format("max_norm (subgroupAdd, {} per row)", device.subgroup_size));
        }
        rec.run();
        const std::vector<float> got = download_f32(ctx, w);
        test::expect_close(got, want, 1e-7, 1e-5, what);
        for (int64_t r = 0; r < rows; ++r) {
          if (targets[r % 5] > 1.0) continue;
          const auto begin = static_cast<std::ptrdiff_t>(r * cols), end = static_cast<std::ptrdiff_t>((r + 1) * cols);
          CHECK(std::equal(got.begin() + begin, got.begin() + end, w_host.begin() + begin));
        }
        double norm = 0;  // row 0 started at 2c: it really is at norm c now
        for (int64_t j = 0; j < cols; ++j) norm += double(got[static_cast<size_t>(j)]) * got[static_cast<size_t>(j)];
        CHECK(std::sqrt(norm) == Approx(c).epsilon(1e-5));
      }
    }
  }
}

TEST_CASE("sgd_step_max_norm is sgd_step then max_norm, bit for bit, in one pass") {
  Context& ctx = test::context();
  if (!ops::fused_max_norm_runs(ctx.info())) {
    WARN(ctx.info().name << " has no subgroup arithmetic: SGD records sgd_step and max_norm apart there");
    return;
  }
  struct Case {
    int64_t rows, cols;
    ops::SgdConfig config;
  };
  for (const Case& c : {Case{7, 1000, {}}, Case{34, 1024, {1e-4f, true}}, Case{5, 3, {0.01f, false}}, Case{1, 1, {}},
                        Case{130, 29, {}}, Case{35, 1024, {1e-4f, true}}}) {
    const std::string what = fmt::format("({}, {}), wd {}, nesterov {}", c.rows, c.cols, c.config.weight_decay,
                                         c.config.nesterov);
    INFO(what);
    Arena arena(ctx, 4 << 20);
    const Shape shape{c.rows, c.cols};
    const size_t count = static_cast<size_t>(c.rows * c.cols);
    // Two copies of (w, v): one for the fused kernel, one for the two passes; the same gradients.
    Tensor w1 = make_tensor(arena, shape, DType::f32, "w1"), v1 = make_tensor(arena, shape, DType::f32, "v1");
    Tensor w2 = make_tensor(arena, shape, DType::f32, "w2"), v2 = make_tensor(arena, shape, DType::f32, "v2");
    Tensor g = make_tensor(arena, shape, DType::f32, "g"), hyper = make_tensor(arena, {4}, DType::f32, "hyper");
    const std::vector<float> w0 = test::random_floats(count, 31), v0 = test::random_floats(count, 32, -0.1f, 0.1f);
    for (const Tensor* t : {&w1, &w2}) upload(ctx, *t, std::span<const float>(w0));
    for (const Tensor* t : {&v1, &v2}) upload(ctx, *t, std::span<const float>(v0));
    // c below the typical row norm (sqrt(cols / 3) for U(-1, 1)) and above some: rows both capped and not.
    const float bound = static_cast<float>(std::sqrt(double(c.cols) / 3.0));
    // Every other case with several subgroups per row (on lavapipe the device's choice is one subgroup):
    // their partial sums meet in shared memory, in both kernels alike.
    const uint32_t workgroup = c.rows % 2 == 1 ? 0 : 4 * std::max(1u, ctx.info().subgroup_size);
    Recorder fused(ctx), apart(ctx);
    ops::sgd_step_max_norm(fused, w1, g, v1, hyper, c.config, bound, workgroup);
    ops::sgd_step(apart, w2, g, v2, hyper, c.config);
    ops::max_norm(apart, w2, bound, ops::RowReduction::Subgroup, workgroup);
    CHECK(fused.dispatch_count() == 1);
    fused.finish();
    apart.finish();
    int capped = 0;
    for (int step = 0; step < 3; ++step) {
      upload(ctx, g, std::span<const float>(test::random_floats(count, 40 + uint32_t(step))));
      upload_hyper(hyper, 0.1f / float(step + 1), 0.9f);
      fused.run();
      apart.run();
      const std::vector<float> got = download_f32(ctx, w1);
      test::expect_bits(got, download_f32(ctx, w2), what + ", w");
      test::expect_bits(download_f32(ctx, v1), download_f32(ctx, v2), what + ", v");
      for (int64_t r = 0; r < c.rows; ++r) {
        double squares = 0;
        for (int64_t j = 0; j < c.cols; ++j) squares += std::pow(double(got[size_t(r * c.cols + j)]), 2);
        capped += std::abs(std::sqrt(squares) - bound) < 1e-4 * bound;
      }
    }
    if (c.cols > 1) CHECK(capped > 0);  // the bound bound somewhere: the scaling is exercised
  }
  // A device without subgroup arithmetic is told what to do; bad shapes and bounds are refused.
  Arena arena(ctx, 1 << 20);
  Tensor w = make_tensor(arena, {4, 5}, DType::f32, "w"), g = make_tensor(arena, {4, 5}, DType::f32, "g");
  Tensor v = make_tensor(arena, {4, 5}, DType::f32, "v"), flat = make_tensor(arena, {20}, DType::f32, "flat");
  Tensor hyper = make_tensor(arena, {4}, DType::f32, "hyper");
  Recorder rec(ctx);
  CHECK_THROWS_AS(ops::sgd_step_max_norm(rec, w, g, v, hyper, {}, 0.0f), ArgumentError);
  CHECK_THROWS_AS(ops::sgd_step_max_norm(rec, flat, flat, flat, hyper, {}, 1.0f), ShapeError);
  CHECK_THROWS_AS(ops::sgd_step_max_norm(rec, w, g, w, hyper, {}, 1.0f), ArgumentError);  // v is w
  CHECK_THROWS_AS(ops::sgd_step_max_norm(rec, w, g, v, hyper, {}, 1.0f, 3), ArgumentError);  // not a power of two
}

TEST_CASE("optimizers refuse bad arguments and record nothing for empty tensors") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 20);
  Tensor w = make_tensor(arena, {10, 20}, DType::f32, "w"), g = make_tensor(arena, {10, 20}, DType::f32, "g"),
         m = make_tensor(arena, {10, 20}, DType::f32, "m"), v = make_tensor(arena, {10, 20}, DType::f32, "v");
  Tensor g_small = make_tensor(arena, {10, 19}, DType::f32, "g_small");
  Tensor g_flat = make_tensor(arena, {200}, DType::f32, "g_flat");
  Tensor hyper = make_tensor(arena, {4}, DType::f32, "hyper"), step = make_tensor(arena, {2}, DType::u32, "step");
  Tensor hyper3 = make_tensor(arena, {3}, DType::f32, "hyper3"), hyper_u32 = make_tensor(arena, {4}, DType::u32, "hu");
  Tensor step1 = make_tensor(arena, {1}, DType::u32, "step1"), step_f32 = make_tensor(arena, {2}, DType::f32, "sf");
  Tensor flat = make_tensor(arena, {200}, DType::f32, "flat");
  Recorder rec(ctx);
  using Catch::Matchers::Contains;
  const ops::SgdConfig sgd{.weight_decay = 1e-4f, .nesterov = true};
  const ops::AdamConfig adam{};

  CHECK_THROWS_AS(ops::sgd_step(rec, w, g_small, v, hyper, sgd), ShapeError);
  CHECK_THROWS_WITH(ops::sgd_step(rec, w, g_small, v, hyper, sgd),
                    Contains("g_small") && Contains("(10, 19)") && Contains("(10, 20)"));
  CHECK_THROWS_AS(ops::sgd_step(rec, w, g_flat, v, hyper, sgd), ShapeError);
  CHECK_THROWS_AS(ops::sgd_step(rec, w, g, g_small, hyper, sgd), ShapeError);
  CHECK_THROWS_AS(ops::sgd_step(rec, w, g, v, hyper3, sgd), ShapeError);
  CHECK_THROWS_WITH(ops::sgd_step(rec, w, g, v, hyper3, sgd), Contains("hyper3") && Contains("lr, momentum"));
  CHECK_THROWS_AS(ops::sgd_step(rec, w, g, v, hyper_u32, sgd), ArgumentError);
  CHECK_THROWS_AS(ops::sgd_step(rec, w, g, v, hyper, ops::SgdConfig{.weight_decay = -1.0f}), ArgumentError);
  CHECK_THROWS_AS(ops::sgd_step(rec, w, g, v, hyper, ops::SgdConfig{.weight_decay = NAN}), ArgumentError);
  CHECK_THROWS_WITH(ops::sgd_step(rec, w, w, v, hyper, sgd), Contains("overlap"));

  CHECK_THROWS_AS(ops::adam_step(rec, w, g_small, m, v, hyper, step, adam), ShapeError);
  CHECK_THROWS_AS(ops::adam_step(rec, w, g, g_small, v, hyper, step, adam), ShapeError);
  CHECK_THROWS_AS(ops::adam_step(rec, w, g, m, g_small, hyper, step, adam), ShapeError);
  CHECK_THROWS_AS(ops::adam_step(rec, w, g, m, v, hyper3, step, adam), ShapeError);
  CHECK_THROWS_AS(ops::adam_step(rec, w, g, m, v, hyper_u32, step, adam), ArgumentError);
  CHECK_THROWS_AS(ops::adam_step(rec, w, g, m, v, hyper, step1, adam), ShapeError);
  CHECK_THROWS_AS(ops::adam_step(rec, w, g, m, v, hyper, step_f32, adam), ArgumentError);
  CHECK_THROWS_WITH(ops::adam_step(rec, w, g, m, v, hyper, step, ops::AdamConfig{.beta1 = 1.0}),
                    Contains("beta1") && Contains("[0, 1)"));
  CHECK_THROWS_AS(ops::adam_step(rec, w, g, m, v, hyper, step, ops::AdamConfig{.beta2 = -0.5}), ArgumentError);
  CHECK_THROWS_AS(ops::adam_step(rec, w, g, m, v, hyper, step, ops::AdamConfig{.beta2 = NAN}), ArgumentError);
  CHECK_THROWS_AS(ops::adam_step(rec, w, g, m, v, hyper, step, ops::AdamConfig{.eps = -1.0f}), ArgumentError);
  CHECK_THROWS_AS(ops::adam_step(rec, w, g, m, v, hyper, step, ops::AdamConfig{.weight_decay = -0.1f}),
                  ArgumentError);
  CHECK_THROWS_AS(ops::adam_step(rec, w, g, m, m, hyper, step, adam), ArgumentError);  // m and v alias

  CHECK_THROWS_AS(ops::max_norm(rec, w, 0.0f), ArgumentError);
  CHECK_THROWS_WITH(ops::max_norm(rec, w, -1.0f), Contains("c = -1") && Contains("> 0"));
  CHECK_THROWS_AS(ops::max_norm(rec, w, NAN), ArgumentError);
  CHECK_THROWS_AS(ops::max_norm(rec, flat, 1.0f), ShapeError);
  CHECK_THROWS_WITH(ops::max_norm(rec, flat, 1.0f), Contains("flat") && Contains("(out, in)"));
  CHECK_THROWS_AS(ops::max_norm(rec, hyper_u32, 1.0f), ShapeError);
  CHECK_THROWS_WITH(ops::max_norm(rec, w, 1.0f, ops::RowReduction::SharedTree, 48),
                    Contains("workgroup 48") && Contains("power of two"));
  CHECK_THROWS_WITH(ops::max_norm(rec, w, 1.0f, ops::RowReduction::Auto, 1u << 30),
                    Contains("workgroup 1073741824") && Contains("no larger than"));
  if (!ctx.info().subgroup_arithmetic) {
    CHECK_THROWS_WITH(ops::max_norm(rec, w, 1.0f, ops::RowReduction::Subgroup), Contains("subgroup arithmetic"));
  }

  Tensor empty = make_tensor(arena, {0}, DType::f32, "empty"), empty_rows = make_tensor(arena, {0, 5}, DType::f32, "e");
  ops::sgd_step(rec, empty, empty, empty, hyper, ops::SgdConfig{});
  ops::adam_step(rec, empty, empty, empty, empty, hyper, step, adam);
  ops::max_norm(rec, empty_rows, 1.0f);
  CHECK_THROWS_AS(ops::max_norm(rec, empty_rows, 0.0f), ArgumentError);  // arguments are checked even then
  CHECK(rec.dispatch_count() == 0);
}

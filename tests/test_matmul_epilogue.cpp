// matmul's epilogues (ops::MatmulEpilogue): a ReLU, a ReLU and a Dropout, and their backward through a gate, applied
// to every value of c on its way out. Each must give exactly the bits of the product followed by the separate op
// (relu_forward, relu_dropout_forward, relu_backward, relu_dropout_backward, whose own tests hold them to the CPU
// reference and the mask contract): at odd and aligned shapes, in both orientations of the shader (Z = C and Cᵀ),
// with scalar and quad stores, on the register and the shared-memory paths, with K split (the epilogue then runs as
// its own pass) and with a ragged column strip (the second dispatch binds c from its first column on).
#include "gpu.hpp"

#include <vkdrop/ops/dropout.hpp>
#include <vkdrop/ops/elementwise.hpp>
#include <vkdrop/ops/matmul.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace vkdrop;

namespace {

struct Product {
  int M, N, K;
  bool trans_a, trans_b, bias;
};

enum class Epi { ReLU, ReLUDropout, ReLUDropoutEvalVanilla, ReLUDropoutEvalInverted, Gate, GateDropout };

const char* name_of(Epi e) {
  switch (e) {
    case Epi::ReLU: return "relu";
    case Epi::ReLUDropout: return "relu + dropout";
    case Epi::ReLUDropoutEvalVanilla: return "relu + dropout (eval, vanilla)";
    case Epi::ReLUDropoutEvalInverted: return "relu + dropout (eval, inverted)";
    case Epi::Gate: return "relu backward";
    case Epi::GateDropout: return "relu + dropout backward";
  }
  return "";
}

// The fused product and the product then the separate op, on the same inputs; returns the fused result after
// checking it has the separate one's bits. `dispatches` gets the fused recording's count.
std::vector<float> check_epilogue(const Product& pr, Epi epi, const std::optional<ops::MatmulTiling>& tiling,
                                  bool split = false, size_t* dispatches = nullptr) {
  Context& ctx = test::context();
  const std::string what = fmt::format("c ({}, {}), K {}{}{}{}, {}, {}{}", pr.M, pr.N, pr.K, pr.trans_a ? ", aT" : "",
                                       pr.trans_b ? ", bT" : "", pr.bias ? ", bias" : "", name_of(epi),
                                       tiling ? ops::matmul_tiling_text(*tiling) : "default tiling",
                                       split ? ", K may split" : "");
  INFO(what);
  const int64_t M = pr.M, N = pr.N, K = pr.K;
  Arena arena(ctx, 32 << 20);
  Tensor a = make_tensor(arena, pr.trans_a ? Shape{K, M} : Shape{M, K}, DType::f32, "a");
  Tensor b = make_tensor(arena, pr.trans_b ? Shape{N, K} : Shape{K, N}, DType::f32, "b");
  Tensor bias = make_tensor(arena, {N}, DType::f32, "bias");
  Tensor gate = make_tensor(arena, {M, N}, DType::f32, "gate");
  Tensor fused = make_tensor(arena, {M, N}, DType::f32, "fused"), apart = make_tensor(arena, {M, N}, DType::f32, "apart");
  Tensor partials =
      make_tensor(arena, {std::max<int64_t>(1, ops::matmul_partials_elements(M, N, K))}, DType::f32, "partials");
  Tensor step = make_tensor(arena, {2}, DType::u32, "step");
  upload(ctx, a, std::span<const float>(test::random_floats(size_t(M * K), 21)));
  upload(ctx, b, std::span<const float>(test::random_floats(size_t(K * N), 22)));
  upload(ctx, bias, std::span<const float>(test::random_floats(size_t(N), 23)));
  // The forward output a gate comes from: zeros (dropped or ReLU'd away) among positive values.
  std::vector<float> g = test::random_floats(size_t(M * N), 24);
  for (float& v : g) v = std::max(v, 0.0f);
  upload(ctx, gate, std::span<const float>(g));
  const std::vector<uint32_t> step_words{41, 3};  // a high word too: the mask takes both
  upload(ctx, step, std::span<const uint32_t>(step_words));

  const ops::DropoutConfig drop{0.4, DropoutScaling::Inverted, 0x1234'5678'9abcULL, 5};
  const ops::DropoutConfig vanilla{0.4, DropoutScaling::Vanilla, 0x1234'5678'9abcULL, 5};
  ops::MatmulEpilogue epilogue;
  switch (epi) {
    case Epi::ReLU: epilogue = ops::MatmulEpilogue::relu(); break;
    case Epi::ReLUDropout: epilogue = ops::MatmulEpilogue::relu(drop, true, &step); break;
    case Epi::ReLUDropoutEvalVanilla: epilogue = ops::MatmulEpilogue::relu(vanilla, false, &step); break;
    case Epi::ReLUDropoutEvalInverted: epilogue = ops::MatmulEpilogue::relu(drop, false, &step); break;
    case Epi::Gate: epilogue = ops::MatmulEpilogue::relu_backward(gate); break;
    case Epi::GateDropout: epilogue = ops::MatmulEpilogue::relu_backward(gate, drop); break;  // scale 1 / 0.6
  }
  const Tensor* bias_ptr = pr.bias ? &bias : nullptr;
  const Tensor* scratch = split ? &partials : nullptr;
  const auto product = [&](Recorder& rec, const Tensor& c, const ops::MatmulEpilogue& e) {
    if (tiling) {
      ops::matmul(rec, c, a, b, pr.trans_a, pr.trans_b, bias_ptr, *tiling, scratch, e);
    } else {
      ops::matmul(rec, c, a, b, pr.trans_a, pr.trans_b, bias_ptr, scratch, e);
    }
  };

  Recorder one(ctx);
  one.fill(fused.slice, 0x7fc00000u);  // NaN: an element the kernel misses cannot pass
  product(one, fused, epilogue);
  one.run();
  if (dispatches != nullptr) *dispatches = one.dispatch_count();

  Recorder two(ctx);
  product(two, apart, {});
  switch (epi) {
    case Epi::ReLU: ops::relu_forward(two, apart, apart); break;
    case Epi::ReLUDropout: ops::relu_dropout_forward(two, apart, apart, drop, true, step); break;
    case Epi::ReLUDropoutEvalVanilla: ops::relu_dropout_forward(two, apart, apart, vanilla, false, step); break;
    case Epi::ReLUDropoutEvalInverted: ops::relu_dropout_forward(two, apart, apart, drop, false, step); break;
    case Epi::Gate: ops::relu_backward(two, apart, apart, gate); break;
    case Epi::GateDropout: ops::relu_dropout_backward(two, apart, apart, gate, drop); break;
  }
  two.run();
  const std::vector<float> got = download_f32(ctx, fused), want = download_f32(ctx, apart);
  test::expect_bits(got, want, what);
  // The epilogue did something: a ReLU or a gate leaves zeros where the plain product has none.
  CHECK(std::count(got.begin(), got.end(), 0.0f) > 0);
  return got;
}

const std::vector<Epi> k_all = {Epi::ReLU,  Epi::ReLUDropout, Epi::ReLUDropoutEvalVanilla, Epi::ReLUDropoutEvalInverted,
                                Epi::Gate, Epi::GateDropout};

// 4 x 4 register blocks on a CPU device (fast to compile; test_matmul covers the blocks themselves), the device's
// own tiling on a GPU.
std::optional<ops::MatmulTiling> small_blocks() {
  const ops::MatmulTiling tiling = ops::matmul_tiling(test::context().info());
  if (tiling.shared) return std::nullopt;
  const uint32_t lanes = tiling.tile_n / tiling.thread_n;
  return ops::MatmulTiling{4, lanes * 4, tiling.tile_k, 4, 4, false, tiling.load_x, tiling.u64_stores};
}

const ops::MatmulTiling k_shared{64, 64, 16, 4, 4, true};

}  // namespace

TEST_CASE("matmul's epilogues give the bits of the product and then the separate op") {
  // Odd sizes (scalar stores, one Philox draw per element), aligned ones (quads of c, one draw per quad), and every
  // transpose, so that both orientations of the shader (Z = C, Z = Cᵀ) store with the epilogue.
  for (Epi epi : k_all) {
    for (const Product& pr : {Product{7, 9, 13, false, true, true}, Product{33, 17, 20, true, false, false},
                              Product{16, 32, 40, false, true, true}, Product{40, 12, 24, true, true, false},
                              Product{12, 64, 36, false, false, true}, Product{70, 6, 30, false, true, false},
                              Product{9, 130, 17, true, false, true}}) {
      check_epilogue(pr, epi, small_blocks());
    }
  }
  // The device's own tiling and the Linear shapes of a small dropout MLP (batch 20).
  for (Epi epi : {Epi::ReLUDropout, Epi::GateDropout}) {
    check_epilogue({20, 64, 48, false, true, true}, epi, std::nullopt);   // y = x·Wᵀ + b
    check_epilogue({20, 48, 64, false, false, false}, epi, std::nullopt);  // dx = dy·W
  }
}

TEST_CASE("matmul's epilogues on the shared-memory (GPU) path") {
  ops::MatmulTiling prefetching = k_shared;
  prefetching.prefetch = true;
  for (Epi epi : k_all) {
    check_epilogue({7, 9, 13, false, true, true}, epi, k_shared);
    check_epilogue({70, 68, 33, true, false, false}, epi, k_shared);  // more than one tile each way
    check_epilogue({70, 68, 33, false, true, true}, epi, prefetching);
  }
}

TEST_CASE("matmul's epilogues where K is split: the slices summed, then the epilogue's own pass") {
  for (Epi epi : {Epi::ReLUDropout, Epi::Gate}) {
    size_t dispatches = 0;
    check_epilogue({5, 12, 20003, true, false, true}, epi, small_blocks(), /*split=*/true, &dispatches);
    if (!test::context().info().is_cpu() || std::thread::hardware_concurrency() >= 2) {
      CHECK(dispatches == 3);  // the slices, their sum, the epilogue
    }
    check_epilogue({5, 12, 20003, false, true, false}, epi, k_shared, /*split=*/true);
  }
}

TEST_CASE("matmul's epilogues on a ragged column strip: masks and gate by c's own element index") {
  // Where lanes load X themselves (4 and 16 lanes on lavapipe), the columns past the last whole tile are a second
  // dispatch bound from their first column on (test_matmul's strip case); its epilogue must still draw the mask
  // of c's element and read the gate there.
  Context& ctx = test::context();
  const ops::MatmulTiling chosen = ops::matmul_tiling(ctx.info());
  if (chosen.shared || !chosen.load_x) {
    WARN("this device takes no column strips (shared-memory path, or X shared by shuffles)");
    return;
  }
  const int tile = static_cast<int>(chosen.tile_n), ragged = 2 * tile + tile / 8;
  for (Epi epi : {Epi::ReLUDropout, Epi::GateDropout}) {
    size_t dispatches = 0;
    check_epilogue({64, ragged, 2400, false, false, true}, epi, chosen, false, &dispatches);
    CHECK(dispatches == 2);  // the whole tiles, the strip
  }
}

TEST_CASE("matmul refuses an epilogue it cannot apply, naming what is wrong") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 20);
  Tensor a = make_tensor(arena, {8, 12}, DType::f32, "a"), b = make_tensor(arena, {12, 16}, DType::f32, "b");
  Tensor c = make_tensor(arena, {8, 16}, DType::f32, "c"), gate_bad = make_tensor(arena, {16, 8}, DType::f32, "g");
  Tensor step = make_tensor(arena, {2}, DType::u32, "step"), step_bad = make_tensor(arena, {3}, DType::u32, "s3");
  const ops::DropoutConfig drop{0.5, DropoutScaling::Inverted, 1, 2};
  Recorder rec(ctx);
  using Catch::Matchers::Contains;
  const auto run = [&](const ops::MatmulEpilogue& e) { ops::matmul(rec, c, a, b, false, false, nullptr, nullptr, e); };
  CHECK_THROWS_WITH(run(ops::MatmulEpilogue::relu(drop)), Contains("needs the step counter"));
  CHECK_THROWS_AS(run(ops::MatmulEpilogue::relu(drop, true, &step_bad)), ShapeError);
  CHECK_THROWS_WITH(run(ops::MatmulEpilogue::relu(ops::DropoutConfig{1.5}, true, &step)),
                    Contains("the epilogue's dropout") && Contains("1.5"));
  CHECK_THROWS_WITH(run({ops::MatmulEpilogue::Kind::None, drop, true, &step, nullptr}), Contains("takes no dropout"));
  CHECK_THROWS_WITH(run(ops::MatmulEpilogue::relu_backward(gate_bad)), Contains("gate") && Contains("(8, 16)"));
  CHECK_THROWS_AS(run(ops::MatmulEpilogue::relu_backward(c)), ArgumentError);  // the gate is what is written
  // A step or gate in memory the product writes (c, or the partial sums of split K).
  Tensor partials = make_tensor(arena, {256}, DType::f32, "partials");
  const Tensor step_in_partials{partials.slice.sub(0, 8), {2}, DType::u32, "step in partials"};
  const Tensor gate_in_partials{partials.slice.sub(0, 8 * 16 * 4), {8, 16}, DType::f32, "gate in partials"};
  CHECK_THROWS_AS(ops::matmul(rec, c, a, b, false, false, nullptr, &partials,
                              ops::MatmulEpilogue::relu_backward(gate_in_partials)),
                  ArgumentError);
  CHECK_THROWS_AS(ops::matmul(rec, c, a, b, false, false, nullptr, &partials,
                              ops::MatmulEpilogue::relu(drop, true, &step_in_partials)),
                  ArgumentError);
  CHECK(rec.dispatch_count() == 0);  // nothing recorded by a refused call
}

// matmul against reference::matmul (double accumulation): every transpose combination, odd shapes that are
// not tile multiples, with and without bias, empty products, both shader paths, and the shape errors.
//
// Tolerance: |got - want| <= 1e-5 * sqrt(K) + 1e-5 * |want|. Inputs are uniform in [-1, 1]; an f32 sum of K
// such products drifts from the exact one by about 2e-8 * K (a random walk of roundings of partial sums of
// size ~sqrt(K)/3), well inside 1e-5 * sqrt(K) for any K here, while a wrong element or a missed k-step is
// off by ~0.1 or more.
#include "gpu.hpp"

#include <vkdrop/ops/matmul.hpp>
#include <vkdrop/reference/matmul.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/shader_registry.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <cmath>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace vkdrop;

namespace {

struct Case {
  int M, N, K;
  bool trans_a, trans_b, bias;
};

std::string describe(const Case& c, const std::string& path) {
  return fmt::format("matmul, c ({}, {}), K {}{}{}{}, {}", c.M, c.N, c.K, c.trans_a ? ", aT" : "",
                     c.trans_b ? ", bT" : "", c.bias ? ", bias" : "", path);
}

// Runs one product on the GPU, compares it with the CPU reference and returns it. With `split`, matmul gets
// scratch for partial sums and may split K.
std::vector<float> check_case(const Case& cs, const std::optional<ops::MatmulTiling>& tiling = std::nullopt,
                              bool split = false, size_t* dispatches = nullptr) {
  Context& ctx = test::context();
  const std::string what =
      describe(cs, tiling ? ops::matmul_tiling_text(*tiling) : "default tiling") + (split ? ", K may split" : "");
  INFO(what);
  const int64_t M = cs.M, N = cs.N, K = cs.K;
  Arena arena(ctx, 32 << 20);
  // a (M, K) or (K, M); b (K, N) or (N, K); c (M, N); bias (N).
  Tensor a = make_tensor(arena, cs.trans_a ? Shape{K, M} : Shape{M, K}, DType::f32, "a");
  Tensor b = make_tensor(arena, cs.trans_b ? Shape{N, K} : Shape{K, N}, DType::f32, "b");
  Tensor c = make_tensor(arena, {M, N}, DType::f32, "c");
  Tensor bias = make_tensor(arena, {N}, DType::f32, "bias");
  Tensor partials = make_tensor(arena, {std::max<int64_t>(1, ops::matmul_partials_elements(M, N, K))}, DType::f32, "partials");
  const Tensor* scratch = split ? &partials : nullptr;
  const auto av = test::random_floats(size_t(M * K), 11), bv = test::random_floats(size_t(K * N), 12);
  const auto biasv = test::random_floats(size_t(N), 13);
  if (M * K > 0) upload(ctx, a, std::span<const float>(av));
  if (K * N > 0) upload(ctx, b, std::span<const float>(bv));
  if (N > 0) upload(ctx, bias, std::span<const float>(biasv));

  Recorder rec(ctx);
  if (M * N > 0) rec.fill(c.slice, 0x7fc00000u);  // NaN: an element the kernel misses cannot pass
  if (split) rec.fill(partials.slice, 0x7fc00000u);  // NaN: a slice the first pass misses cannot pass
  if (tiling) {
    ops::matmul(rec, c, a, b, cs.trans_a, cs.trans_b, cs.bias ? &bias : nullptr, *tiling, scratch);
  } else {
    ops::matmul(rec, c, a, b, cs.trans_a, cs.trans_b, cs.bias ? &bias : nullptr, scratch);
  }
  rec.run();
  if (dispatches != nullptr) *dispatches = rec.dispatch_count();
  if (M * N == 0) return {};

  std::vector<float> want(size_t(M * N));
  ref::matmul(want.data(), av.data(), bv.data(), cs.M, cs.N, cs.K, cs.trans_a, cs.trans_b);
  if (cs.bias) {
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) want[size_t(m * N + n)] += biasv[size_t(n)];
  }
  std::vector<float> got = download_f32(ctx, c);
  test::expect_close(got, want, 1e-5 * std::sqrt(double(std::max<int64_t>(K, 1))), 1e-5, what);
  return got;
}

// On a CPU device most cases run with 4 x 4 register blocks instead of matmul_tiling()'s: the same shader
// code with other specialization constants, which LLVM compiles in about 0.2 s per variant (the largest
// block takes lavapipe 2.5 s; the Linear case below runs those, and an 8 x 8 tiling covers blocks of
// several quads). GPUs use their own tiling.
std::optional<ops::MatmulTiling> test_tiling() {
  const DeviceInfo& device = test::context().info();
  ops::MatmulTiling tiling = ops::matmul_tiling(device);
  if (tiling.shared) return std::nullopt;
  const uint32_t lanes = tiling.tile_n / tiling.thread_n;
  return ops::MatmulTiling{4, lanes * 4, tiling.tile_k, 4, 4, false, tiling.load_x, tiling.u64_stores};
}

void check_all_transposes(int M, int N, int K, const std::optional<ops::MatmulTiling>& tiling = test_tiling()) {
  for (bool trans_a : {false, true}) {
    for (bool trans_b : {false, true}) check_case({M, N, K, trans_a, trans_b, (M + N + K) % 2 == 0}, tiling);
  }
}

}  // namespace

TEST_CASE("matmul matches the reference for every transpose combination at odd shapes") {
  // Not multiples of 4 (scalar loads and stores, the K remainder), single rows and columns, and shapes
  // whose edges cut through the register blocks.
  for (auto [M, N, K] : {std::array{1, 1, 1}, std::array{7, 33, 129}, std::array{1000, 7, 129},
                         std::array{33, 1, 7}, std::array{5, 3, 2}}) {
    check_all_transposes(M, N, K);
  }
  check_case({129, 65, 33, false, false, true}, test_tiling());
  check_case({129, 65, 33, true, true, false}, test_tiling());
}

TEST_CASE("matmul matches the reference on aligned shapes (vec4 loads and stores)") {
  // Multiples of 4 that are not multiples of the blocks, K remainders of the 32-step chunks, Z = Cᵀ with
  // vec4 stores along its rows (128 x 20), and K = 10 where only the r- and q-contiguous operands
  // (aT, b) can be read as vec4.
  for (auto [M, N, K] : {std::array{12, 100, 64}, std::array{4, 4, 4}, std::array{300, 44, 36}}) {
    check_all_transposes(M, N, K);
  }
  check_case({128, 20, 12, false, true, true}, test_tiling());
  check_case({128, 20, 12, true, false, false}, test_tiling());
  check_case({12, 260, 10, true, false, true}, test_tiling());
  // The register path's other way of storing C's quads: vec4s where the device's tiling stores 64-bit words
  // (ops::u64_stores), and 64-bit words where it stores vec4s and the device can.
  std::optional<ops::MatmulTiling> other = test_tiling();
  if (other && (other->u64_stores || test::context().info().shader_int64)) {
    other->u64_stores = !other->u64_stores;
    check_case({128, 20, 12, false, true, true}, other);
    check_case({128, 20, 12, true, false, false}, other);
    check_case({12, 100, 64, false, false, true}, other);
  }
  // Tilings the device cannot run: 64-bit stores on the shared-memory path, and (VKDROP_SHADER_INT64=0, the
  // @no_int64 test) on a device without 64-bit integers.
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  Tensor a = make_tensor(arena, {4, 4}, DType::f32, "a"), b = make_tensor(arena, {4, 4}, DType::f32, "b"),
         c = make_tensor(arena, {4, 4}, DType::f32, "c");
  std::vector<ops::MatmulTiling> refused{ops::MatmulTiling{64, 64, 16, 4, 4, true}};
  if (test_tiling() && !ctx.info().shader_int64) refused.push_back(*test_tiling());
  for (ops::MatmulTiling tiling : refused) {
    tiling.u64_stores = true;
    Recorder rec(ctx);
    CHECK_THROWS_WITH(ops::matmul(rec, c, a, b, false, false, nullptr, tiling),
                      Catch::Matchers::Contains("64-bit stores need the register path"));
  }
}

TEST_CASE("matmul serves Linear's three products with the device's own tiling") {
  // Forward Y = X·Wᵀ + b, dX = dY·W and dW = dYᵀ·X with matmul_tiling(): a 784 -> 1024 layer at batch 128
  // (smaller backward products, with edges, still taking the largest block), and a 784 -> 10 one.
  check_case({128, 1024, 784, false, true, true});
  check_case({100, 260, 512, false, false, false});
  check_case({260, 196, 64, true, false, false});
  check_case({128, 10, 784, false, true, true});
  check_case({128, 784, 10, false, false, false});
  check_case({10, 784, 128, true, false, false});
}

TEST_CASE("matmul with empty sizes records nothing, or the bias for K = 0") {
  check_case({0, 5, 3, false, false, true});
  check_case({4, 0, 3, false, true, false});
  check_case({3, 5, 0, false, false, false});  // an empty sum: c = 0
  check_case({3, 5, 0, true, true, true});     // c = bias in every row
  // The prefetching shared path loads nothing when K = 0 (K - 1 does not clamp there).
  check_case({3, 5, 0, false, true, true}, ops::MatmulTiling{64, 64, 16, 4, 4, true, false, false, /*prefetch=*/true});
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 20);
  Tensor a = make_tensor(arena, {0, 3}), b = make_tensor(arena, {3, 4}), c = make_tensor(arena, {0, 4});
  Recorder rec(ctx);
  ops::matmul(rec, c, a, b, false, false);
  CHECK(rec.dispatch_count() == 0);
}

TEST_CASE("matmul's shared-memory (GPU) path matches the reference") {
  // The tiling matmul_tiling() gives GPUs, here on whatever device runs the tests, and a smaller one with
  // 2 x 4 blocks for every transpose combination.
  const ops::MatmulTiling gpu{64, 64, 16, 4, 4, true};
  const ops::MatmulTiling small{16, 32, 8, 2, 4, true};  // uneven blocks, quicker for lavapipe to compile
  check_all_transposes(70, 65, 20, small);
  check_case({7, 33, 129, false, true, true}, gpu);
  check_case({70, 65, 20, true, false, false}, gpu);
}

TEST_CASE("matmul's register (CPU) path matches the reference with blocks of several quads") {
  Context& ctx = test::context();
  if (ops::matmul_tiling(ctx.info()).shared) {
    WARN("this device runs matmul's shared-memory path; the register path is for CPU devices");
    return;
  }
  const uint32_t lanes = ctx.info().subgroup_size;
  const ops::MatmulTiling wide{8, lanes * 8, 4 * lanes, 8, 8, false, ops::matmul_tiling(ctx.info()).load_x};
  check_all_transposes(40, 100, 20, wide);  // aligned: vec4 loads and stores, edges inside 2 x 2 quads
  check_case({41, 99, 21, false, true, true}, wide);
}

TEST_CASE("matmul's register path shares X between lanes by shuffles or loads it in every lane, with one result") {
  // matmul_tiling() picks one per subgroup size (shuffles at 8 lanes, loads at others); both must be right
  // at every size, so the test runs the one it did not pick too (the lane-width variants of this test
  // cover 4, 8 and 16 lanes).
  Context& ctx = test::context();
  const ops::MatmulTiling chosen = ops::matmul_tiling(ctx.info());
  if (chosen.shared) {
    WARN("this device runs matmul's shared-memory path; the register path is for CPU devices");
    return;
  }
  CHECK(chosen.load_x == (ctx.info().subgroup_size != 8));
  const uint32_t lanes = ctx.info().subgroup_size;
  const int n = static_cast<int>(lanes);
  for (bool load_x : {false, true}) {
    const ops::MatmulTiling tiling{4, lanes * 4, 4 * lanes, 4, 4, false, load_x};
    check_all_transposes(37, 8 * n + 3, 4 * n + 9, tiling);  // K spans a staged chunk and a part of one
    check_case({32, 8 * n, 8 * n, false, true, true}, tiling);  // aligned: vec4 loads and stores
  }
  CHECK(embedded_shader("matmul").vulkan_minor == 1);
  CHECK(embedded_shader("matmul_load").vulkan_minor == 1);
}

TEST_CASE("matmul's register path takes a ragged last column of tiles as a strip of narrower blocks: the same bits") {
  // Where lanes load X themselves (4 and 16 lanes on lavapipe), the columns past the last whole tile go to a second
  // dispatch of tm x 4 blocks (ops/matmul.cpp, column_strip), bound from their first column on: the sample CNN's
  // weight-gradient shape (Z = C, a bias along the columns), k-contiguous Y, and a tall product. Each element sums
  // as the tm x 4 tiling alone sums it.
  Context& ctx = test::context();
  const ops::MatmulTiling chosen = ops::matmul_tiling(ctx.info());
  if (chosen.shared) {
    WARN("this device runs matmul's shared-memory path; the register path is for CPU devices");
    return;
  }
  const uint32_t lanes = ctx.info().subgroup_size;
  ops::MatmulTiling narrow = chosen;
  narrow.thread_n = 4;
  narrow.tile_n = lanes * 4;
  const int tile = static_cast<int>(chosen.tile_n), ragged = 2 * tile + tile / 8;
  int strips = 0;
  // K long enough for the padding to be worth a second dispatch (at least 4 M multiply-adds of it).
  for (const Case& cs : {Case{64, ragged, 2400, false, false, true}, Case{64, ragged, 2404, false, true, true},
                         Case{ragged, 64, 2400, true, false, false}}) {
    size_t dispatches = 0;
    const std::vector<float> got = check_case(cs, chosen, false, &dispatches);
    test::expect_bits(check_case(cs, narrow), got, describe(cs, "blocks of 4 columns alone"));
    strips += dispatches == 2 ? 1 : 0;
  }
  if (chosen.load_x) CHECK(strips >= 2);  // the model takes the strip for the first two at least
}

TEST_CASE("matmul's register path covers ragged columns with blocks up to half again as wide: the same bits") {
  // Columns one tile and an eighth wide (the sample CNN's 288 taps at 16 lanes) fit one tile of blocks half again
  // as wide (ops/matmul.cpp, choose_registers): one dispatch, where the strip of 4-column blocks made two. Each
  // element sums as the 4-column tiling alone sums it.
  Context& ctx = test::context();
  const ops::MatmulTiling chosen = ops::matmul_tiling(ctx.info());
  if (chosen.shared) {
    WARN("this device runs matmul's shared-memory path; the register path is for CPU devices");
    return;
  }
  ops::MatmulTiling narrow = chosen;
  narrow.thread_n = 4;
  narrow.tile_n = ctx.info().subgroup_size * 4;
  const int columns = static_cast<int>(chosen.tile_n + chosen.tile_n / 8);
  for (const Case& cs : {Case{64, columns, 2400, false, true, true}, Case{40, columns, 2404, false, false, false}}) {
    size_t dispatches = 0;
    const std::vector<float> got = check_case(cs, chosen, false, &dispatches);
    test::expect_bits(check_case(cs, narrow), got, describe(cs, "blocks of 4 columns alone"));
    CHECK(dispatches == 1);
  }
}

TEST_CASE("matmul splits a long K into slices added in order: the reference's product, the same bits every run") {
  // A conv's weight gradient (few outputs, K = every output position), a classifier's 10 columns, and K
  // that no slice divides evenly; both shader paths, with and without bias, every transpose.
  CHECK(ops::matmul_max_split(32, 9, 100352) == 64);
  CHECK(ops::matmul_max_split(128, 10, 1024) == 4);
  CHECK(ops::matmul_max_split(1024, 1024, 128) == 1);  // K too short
  CHECK(ops::matmul_max_split(128, 1024, 1024) == 4);  // 2 MiB of partial sums at most
  CHECK(ops::matmul_partials_elements(1024, 1024, 128) == 0);
  CHECK(ops::matmul_partials_elements(5, 9, 20003) == 64 * 48);  // 45 outputs, rounded up to quads
  const ops::MatmulTiling gpu{64, 64, 16, 4, 4, true};
  for (bool trans_a : {false, true}) {
    for (bool trans_b : {false, true}) {
      const Case cs{5, 9, 20003, trans_a, trans_b, trans_a != trans_b};
      const std::vector<float> once = check_case(cs, test_tiling(), true);
      test::expect_bits(check_case(cs, test_tiling(), true), once, describe(cs, "split, run again"));
      check_case(cs, gpu, true);
    }
  }
  check_case({128, 10, 1024, false, true, true}, std::nullopt, true);
  check_case({32, 9, 30000, true, false, false}, std::nullopt, true);
  check_case({64, 288, 4100, true, false, false}, gpu, true);

  Context& ctx = test::context();
  Arena arena(ctx, 4 << 20);
  Tensor a = make_tensor(arena, {20003, 5}, DType::f32, "a"), b = make_tensor(arena, {20003, 9}, DType::f32, "b");
  Tensor c = make_tensor(arena, {5, 9}, DType::f32, "c"), small = make_tensor(arena, {100}, DType::f32, "partials");
  Tensor enough = make_tensor(arena, {ops::matmul_partials_elements(5, 9, 20003)}, DType::f32, "partials");
  // The cases above did split: one 64 x 64 tile leaves a GPU or a CPU device of two or more cores idle.
  if (!ctx.info().is_cpu() || std::thread::hardware_concurrency() >= 2) {
    Recorder split(ctx);
    ops::matmul(split, c, a, b, true, false, nullptr, gpu, &enough);
    CHECK(split.dispatch_count() == 2);  // the slices, then their sum
  }

  // Too little scratch for the split this shape may take: refused, naming what it needs.
  Recorder rec(ctx);
  CHECK_THROWS_WITH(ops::matmul(rec, c, a, b, true, false, nullptr, &small),
                    Catch::Matchers::Contains("partials (100,) has 100 elements") && Catch::Matchers::Contains("needs 3072"));
  CHECK_THROWS_AS(ops::matmul(rec, c, a, b, true, false, nullptr, &a), ArgumentError);  // large enough, but a
}

TEST_CASE("matmul rejects shapes that do not chain and a bias of the wrong length") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 20);
  Tensor x = make_tensor(arena, {128, 784}, DType::f32, "x");
  Tensor w = make_tensor(arena, {100, 783}, DType::f32, "w");
  Tensor y = make_tensor(arena, {128, 100}, DType::f32, "y");
  Tensor w_ok = make_tensor(arena, {100, 784}, DType::f32, "w_ok");
  Tensor b_bad = make_tensor(arena, {99}, DType::f32, "b_bad");
  Tensor y_bad = make_tensor(arena, {128, 99}, DType::f32, "y_bad");
  Tensor labels = make_tensor(arena, {128, 784}, DType::i32, "labels");
  Recorder rec(ctx);
  CHECK_THROWS_AS(ops::matmul(rec, y, x, w, false, true), ShapeError);
  CHECK_THROWS_WITH(ops::matmul(rec, y, x, w, false, true),
                    Catch::Matchers::Contains("x (128, 784)") && Catch::Matchers::Contains("w (100, 783)") &&
                        Catch::Matchers::Contains("do not chain"));
  CHECK_THROWS_AS(ops::matmul(rec, y, x, w_ok, false, false), ShapeError);  // forgot trans_b
  CHECK_THROWS_AS(ops::matmul(rec, y_bad, x, w_ok, false, true), ShapeError);
  CHECK_THROWS_WITH(ops::matmul(rec, y_bad, x, w_ok, false, true), Catch::Matchers::Contains("y_bad (128, 99)"));
  CHECK_THROWS_AS(ops::matmul(rec, y, x, w_ok, false, true, &b_bad), ShapeError);
  CHECK_THROWS_WITH(ops::matmul(rec, y, x, w_ok, false, true, &b_bad),
                    Catch::Matchers::Contains("bias") && Catch::Matchers::Contains("'b_bad' has shape (99,)"));
  CHECK_THROWS_AS(ops::matmul(rec, y, labels, w_ok, false, true), ArgumentError);  // not f32
  CHECK_THROWS_AS(ops::matmul(rec, x, x, w_ok, true, false), ShapeError);          // xT (784, 128), w_ok (100, 784)
  Tensor square = make_tensor(arena, {16, 16}, DType::f32, "square");
  CHECK_THROWS_AS(ops::matmul(rec, square, square, square, false, false), ArgumentError);  // c overlaps a
  CHECK(rec.dispatch_count() == 0);
}

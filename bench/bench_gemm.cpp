// matmul against OpenBLAS's sgemm on the same machine, in the same run: each product is first checked
// against OpenBLAS's result, then both are timed in alternating rounds, so that whatever else runs on the
// machine slows both alike. Prints one markdown table.
//
//   bench_gemm [--block TMxTN] [--shared] [--samples N] [--shape MxNxK]
//
// --shape keeps only the products of that shape (for a profile of one kernel: bench/jit_profile.py).
//
// Each product runs with the tiling matmul would take: where the device's matmul tuner is on (GPUs by default,
// VKDROP_MATMUL_AUTOTUNE=1 elsewhere) the one it measured fastest for that shape, printed in the row; else
// matmul_tiling's. --block overrides the register block of the CPU path (matmul_tiling's thread_m x thread_n), to
// compare blocks; --shared runs the shared-memory tiling matmul_tiling gives GPUs instead; neither is tuned. ours/OpenBLAS is the
// ratio of median times. OpenBLAS uses its default threads (all cores), as lavapipe does.
//
// The peer runs with the best kernels this CPU has: unless OPENBLAS_CORETYPE is set, bench_gemm first times
// OpenBLAS alone with the kernels it detects (0.3.21 takes some AVX-512 VMs for `Prescott`), then runs itself
// again with OPENBLAS_CORETYPE set from the CPU's flags (SkylakeX with AVX-512, Haswell with AVX2) for the
// comparison; on lavapipe once per vector width (4, 8, 16 lanes) unless LP_NATIVE_VECTOR_WIDTH is set. On a GPU
// it also faces cuBLAS on that GPU through PyTorch (bench/torch_cuda.py; VKDROP_PYTHON names its python3).
#include <vkdrop/ops/matmul.hpp>
#include <vkdrop/ops/matmul_tuner.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include "bench_support.hpp"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace vkdrop;

namespace {

using vkdrop::bench::median;
using vkdrop::bench::random_floats;

struct Product {
  int M, N, K;
  bool trans_a, trans_b;
  const char* role;  // which Linear pass has this shape and these transposes
};

// Rounds of samples of each side, alternating, so that a burst of other work on the machine hits both.
constexpr int k_rounds = 5;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void sgemm(const Product& p, const float* a, const float* b, float* c) {
  const int lda = p.trans_a ? p.M : p.K, ldb = p.trans_b ? p.K : p.N;
  cblas_sgemm(CblasRowMajor, p.trans_a ? CblasTrans : CblasNoTrans, p.trans_b ? CblasTrans : CblasNoTrans, p.M,
              p.N, p.K, 1.0f, a, lda, b, ldb, 0.0f, c, p.N);
}

const std::vector<Product> k_products = {
    {128, 1024, 784, false, true, "Linear forward, 784 -> 1024, batch 128"},
    {128, 1024, 1024, false, true, "Linear forward, 1024 -> 1024"},
    {1024, 1024, 128, true, false, "Linear dW = dYT X"},
    {128, 10, 1024, false, true, "Linear forward, 1024 -> 10"},
    {1024, 1024, 1024, false, false, "square, dX = dY W"},
};

// Back-to-back products per sample: at least ~20 ms of work at `rate` FLOP/s (5 GFLOP/s for a CPU, 5 TFLOP/s
// for a GPU), so that the submission overhead of a Recorder::run (tens of microseconds) does not count against
// the small shapes.
uint32_t reps_for(double flops, double rate = 5e9) {
  return static_cast<uint32_t>(std::clamp(2e-2 / (flops / rate), 1.0, 1000.0));
}

// The products to run: all of them, or those of one shape (--shape).
std::vector<Product> selected_products(int M, int N, int K) {
  std::vector<Product> chosen;
  for (const Product& p : k_products) {
    if (M == 0 || (p.M == M && p.N == N && p.K == K)) chosen.push_back(p);
  }
  return chosen;
}

// OpenBLAS alone, with the kernels it chose, median GFLOP/s per product.
void print_openblas_alone(const std::vector<Product>& products, int samples) {
  fmt::print("OpenBLAS alone, as it detects this CPU: {} (core {}, {} threads)\n\n", openblas_get_config(),
             openblas_get_corename(), openblas_get_num_threads());
  fmt::print("| M | N | K | op | OpenBLAS GFLOP/s (detected kernels) | shape |\n|---|---|---|---|---|---|\n");
  for (const Product& p : products) {
    const auto av = random_floats(size_t(p.M) * p.K, 1), bv = random_floats(size_t(p.K) * p.N, 2);
    std::vector<float> c(size_t(p.M) * p.N);
    const double flops = 2.0 * p.M * p.N * p.K;
    const uint32_t reps = reps_for(flops);
    sgemm(p, av.data(), bv.data(), c.data());  // warm-up
    std::vector<double> times;
    for (int s = 0; s < k_rounds * samples; ++s) {
      const auto start = std::chrono::steady_clock::now();
      for (uint32_t r = 0; r < reps; ++r) sgemm(p, av.data(), bv.data(), c.data());
      times.push_back(seconds_since(start) / reps);
    }
    fmt::print("| {} | {} | {} | {}{} | {:.1f} | {} |\n", p.M, p.N, p.K, p.trans_a ? "aT" : "a", p.trans_b ? " bT" : " b",
               flops / median(times) / 1e9, p.role);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int samples = 5;
  uint32_t block_m = 0, block_n = 0;
  bool shared = false;
  int shape_m = 0, shape_n = 0, shape_k = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--block") == 0 && i + 1 < argc) {
      if (std::sscanf(argv[++i], "%ux%u", &block_m, &block_n) != 2) {
        fmt::print(stderr, "--block wants TMxTN, e.g. 16x16\n");
        return 2;
      }
    } else if (std::strcmp(argv[i], "--shared") == 0) {
      shared = true;
    } else if (std::strcmp(argv[i], "--samples") == 0 && i + 1 < argc) {
      samples = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--shape") == 0 && i + 1 < argc) {
      const char* text = argv[++i];
      int end = 0;
      if (std::sscanf(text, "%dx%dx%d%n", &shape_m, &shape_n, &shape_k, &end) != 3 || text[end] != '\0' ||
          shape_m <= 0 || selected_products(shape_m, shape_n, shape_k).empty()) {
        std::string shapes;
        for (const Product& p : k_products) shapes += fmt::format(" {}x{}x{}", p.M, p.N, p.K);
        fmt::print(stderr, "--shape {}: bench_gemm has no such product; it has{}\n", text, shapes);
        return 2;
      }
    } else {
      fmt::print(stderr, "usage: bench_gemm [--block TMxTN] [--shared] [--samples N] [--shape MxNxK]\n");
      return 2;
    }
  }
  const std::vector<Product> products = selected_products(shape_m, shape_n, shape_k);

  try {
    Context ctx;
    const bool lavapipe = bench::is_lavapipe(ctx.info().driver);
    const std::string best = bench::best_openblas_kernels();
    const bool choose_kernels = std::getenv("OPENBLAS_CORETYPE") == nullptr && !best.empty();
    if (choose_kernels || bench::per_lane_width(lavapipe)) {
      if (choose_kernels) {
        print_openblas_alone(products, samples);
        fmt::print("\nvkdrop against OpenBLAS with the best kernels this CPU has (OPENBLAS_CORETYPE={}):\n", best);
      }
      std::fflush(stdout);
      return bench::rerun(argv, lavapipe,
                          choose_kernels ? std::vector<std::string>{"OPENBLAS_CORETYPE=" + best} : std::vector<std::string>{});
    }
    const bool gpu = !ctx.info().is_cpu();
    ops::MatmulTiling tiling = ops::matmul_tiling(ctx.info());
    if (shared) tiling = ops::MatmulTiling{64, 64, 16, 4, 4, true};
    if (block_m > 0) {
      const uint32_t lanes = tiling.shared ? 1 : tiling.tile_n / tiling.thread_n;
      tiling.thread_m = block_m;
      tiling.thread_n = block_n;
      tiling.tile_m = tiling.shared ? tiling.tile_m : block_m;
      tiling.tile_n = tiling.shared ? tiling.tile_n : lanes * block_n;
    }
    fmt::print("device: {} ({})\n", ctx.info().name, ctx.info().driver);
    fmt::print("tiling: {}{}\n", ops::matmul_tiling_text(tiling),
               !shared && block_m == 0 && ops::matmul_tuner(ctx).enabled()
                   ? fmt::format(" unless tuned (the tuner is on; its file: {})", ops::matmul_tuner(ctx).file().string())
                   : "");
    fmt::print("OpenBLAS: {} (core {}, {} threads)", openblas_get_config(), openblas_get_corename(),
               openblas_get_num_threads());
    if (const char* core = std::getenv("OPENBLAS_CORETYPE")) fmt::print(", OPENBLAS_CORETYPE={}", core);
    fmt::print("\ntimes: median of {} rounds of {} samples each, vkdrop (wall time of Recorder::run replaying the "
               "product) and OpenBLAS (cblas_sgemm) alternating, after a warm-up run\n\n",
               k_rounds, samples);

    std::vector<std::string> rows;
    std::string cuda_peer;
    bool all_correct = true;
    for (const Product& p : products) {
      const int64_t M = p.M, N = p.N, K = p.K;
      const auto av = random_floats(size_t(M * K), 1), bv = random_floats(size_t(K * N), 2);
      Arena arena(ctx);
      // a (M, K) or (K, M); b (K, N) or (N, K); c (M, N).
      Tensor a = make_tensor(arena, p.trans_a ? Shape{K, M} : Shape{M, K}, DType::f32, "a");
      Tensor b = make_tensor(arena, p.trans_b ? Shape{N, K} : Shape{K, N}, DType::f32, "b");
      Tensor c = make_tensor(arena, {M, N}, DType::f32, "c");
      // Scratch for split K, as Linear declares it: the product as the layers run it.
      Tensor partials = make_tensor(arena, {std::max<int64_t>(1, ops::matmul_partials_elements(M, N, K))}, DType::f32, "partials");
      upload(ctx, a, std::span<const float>(av));
      upload(ctx, b, std::span<const float>(bv));
      ops::MatmulTiling product_tiling = tiling;
      const bool tuned = !shared && block_m == 0 && ops::matmul_tuner(ctx).enabled();
      if (tuned) {
        product_tiling = ops::matmul_tuner(ctx).tiling_for(
            {uint32_t(M), uint32_t(N), uint32_t(K), p.trans_a, p.trans_b, /*split=*/true});
      }
      Recorder rec(ctx);
      ops::matmul(rec, c, a, b, p.trans_a, p.trans_b, nullptr, product_tiling, &partials);
      rec.finish();
      rec.run();  // warm-up; on lavapipe the first run also compiles the kernel

      // Check against OpenBLAS: the largest difference relative to the largest element.
      std::vector<float> want(size_t(M * N));
      sgemm(p, av.data(), bv.data(), want.data());
      const std::vector<float> got = download_f32(ctx, c);
      double diff = 0, scale = 0;
      for (size_t i = 0; i < want.size(); ++i) {
        diff = std::max(diff, double(std::abs(got[i] - want[i])));
        scale = std::max(scale, double(std::abs(want[i])));
      }
      const double rel = diff / std::max(scale, 1e-30);
      const bool correct = rel < 1e-5;
      all_correct = all_correct && correct;

      // A sample is `reps` back-to-back products: vkdrop replays the recording reps times in one
      // submission, OpenBLAS is called reps times.
      const double flops = 2.0 * double(M) * double(N) * double(K);
      const uint32_t reps = reps_for(flops, gpu ? 5e12 : 5e9);
      // Rounds of each, not interleaved sample by sample: OpenBLAS's threads keep spinning for a while
      // after a call and would take a core from lavapipe's. Hence also the pause before ours.
      std::vector<double> ours, theirs;
      for (int round = 0; round < k_rounds; ++round) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        for (int s = 0; s < samples; ++s) {
          const auto start = std::chrono::steady_clock::now();
          rec.run(reps);
          ours.push_back(seconds_since(start) / reps);
        }
        for (int s = 0; s < samples; ++s) {
          const auto start = std::chrono::steady_clock::now();
          for (uint32_t r = 0; r < reps; ++r) sgemm(p, av.data(), bv.data(), want.data());
          theirs.push_back(seconds_since(start) / reps);
        }
      }
      const double ours_gf = flops / median(ours) / 1e9, theirs_gf = flops / median(theirs) / 1e9;
      // The fastest samples too: other work on the machine only ever slows a sample down.
      const double ours_best = flops / *std::min_element(ours.begin(), ours.end()) / 1e9;
      const double theirs_best = flops / *std::min_element(theirs.begin(), theirs.end()) / 1e9;
      const char* op = p.trans_a ? (p.trans_b ? "aT bT" : "aT b") : (p.trans_b ? "a bT" : "a b");
      // On a GPU the peer that matters is cuBLAS on the same GPU, through PyTorch (fp32, TF32 off).
      std::string cuda_cells;
      if (gpu) {
        const auto cuda = bench::python_peer("", "torch_cuda.py", fmt::format("gemm {} {} {} {} {}", M, N, K,
                                                                               int(p.trans_a), int(p.trans_b)),
                                             "set VKDROP_PYTHON to a python3 whose torch has CUDA.");
        cuda_cells = cuda ? fmt::format(" {:.0f} | {:.2f} |", (*cuda)["gflops"].get<double>(),
                                        ours_gf / (*cuda)["gflops"].get<double>())
                          : " n/a | n/a |";
        if (cuda) cuda_peer = fmt::format("PyTorch {} on {}", (*cuda)["torch"].get<std::string>(),
                                          (*cuda)["device"].get<std::string>());
      }
      rows.push_back(fmt::format("| {} | {} | {} | {} | {:.1f} | {:.1f} | {:.2f} | {:.1f} / {:.1f} = {:.2f} |{} {:.1e}{} | {}{}{} |",
                                 M, N, K, op, ours_gf, theirs_gf, ours_gf / theirs_gf, ours_best, theirs_best,
                                 ours_best / theirs_best, cuda_cells, rel, correct ? "" : " WRONG", p.role,
                                 rec.dispatch_count() > 1 ? " (K split)" : "",
                                 tuned ? fmt::format("; tuned: {}", ops::matmul_tiling_text(product_tiling)) : ""));
    }

    fmt::print("| M | N | K | op | vkdrop GFLOP/s | OpenBLAS GFLOP/s | ours/OpenBLAS | fastest samples: ours / "
               "OpenBLAS GFLOP/s = ratio |{} max rel. diff | shape |\n",
               gpu ? " PyTorch CUDA GFLOP/s (fp32) | ours/PyTorch CUDA |" : "");
    fmt::print("|---|---|---|---|---|---|---|---|{}---|---|\n", gpu ? "---|---|" : "");
    for (const std::string& row : rows) fmt::print("{}\n", row);
    if (!cuda_peer.empty()) fmt::print("\n{}, CUDA events over back-to-back products, TF32 off.\n", cuda_peer);
    if (!all_correct) {
      fmt::print(stderr, "vkdrop's product differs from OpenBLAS's beyond 1e-5 of the largest element\n");
      return 1;
    }
  } catch (const Error& e) {
    fmt::print(stderr, "bench_gemm: {}\n", e.what());
    return 1;
  }
  return 0;
}

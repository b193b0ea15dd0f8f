// Memory bandwidth of dropout, Dropout2d and ReLU against two yardsticks: the machine's memcpy (the
// physical limit of a kernel that reads and writes each element once; on a CPU device, memcpy from as many
// threads as lavapipe runs) and our own copy kernel (the same work through the device). Each kernel's result
// is first checked bit for bit against its CPU reference, then timed with GPU timestamps over replays
// (median); memcpy is timed in the same rounds by the wall clock.
//
//   build/bench/bench_dropout [--elements N ...] [--replays R]
//
// On lavapipe it runs once per vector width (4, 8 and 16 lanes) unless LP_NATIVE_VECTOR_WIDTH is set.
//
// The last column counts the bytes per element a kernel leaves behind for its backward pass. Ours keep
// none: the backward pass regenerates the mask from (seed, step, layer). PyTorch's dropout keeps a
// 1-byte bool mask per element between forward and backward.

#include <vkdrop/ops/dropout.hpp>
#include <vkdrop/ops/elementwise.hpp>
#include <vkdrop/ops/quads.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/reference/dropout.hpp>
#include <vkdrop/reference/dropout2d.hpp>
#include <vkdrop/reference/relu.hpp>
#include <vkdrop/runtime/arena.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/kernel.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include "bench_support.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace vkdrop;

namespace {

using vkdrop::bench::median;
using vkdrop::bench::random_floats;

constexpr uint64_t k_seed = 0x5eed'0000'1234'abcdull;
constexpr uint64_t k_step = 41;
constexpr uint32_t k_layer = 3;
constexpr double k_p = 0.5;

// Bit-for-bit equality: the kernels here compute exactly what their references compute.
void verify(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  if (got.size() != want.size() || std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) != 0) {
    size_t i = 0;
    while (i < got.size() && std::memcmp(&got[i], &want[i], sizeof(float)) == 0) ++i;
    throw Error(fmt::format("{}: result differs from the CPU reference at element {} (got {}, want {})", what, i,
                            i < got.size() ? got[i] : 0.0f, i < want.size() ? want[i] : 0.0f));
  }
}

double gbps(double bytes, double ms) { return bytes / (ms * 1e-3) / 1e9; }

// One timed kernel: a recording holding its one dispatch.
struct Case {
  std::string name;
  int64_t elements;
  double bytes;  // read + written
  std::string extra_bytes;
  std::unique_ptr<Recorder> rec;
  std::vector<double> ms;
};

// Records `record` once, runs it and checks `out` against `want` bit for bit, and returns the case.
Case make_case(Context& ctx, std::string name, int64_t elements, double bytes, std::string extra_bytes,
               const std::function<void(Recorder&)>& record, const Tensor& out, const std::vector<float>& want) {
  Case c{std::move(name), elements, bytes, std::move(extra_bytes),
         std::make_unique<Recorder>(ctx, RecorderOptions{.timestamps = true}), {}};
  record(*c.rec);
  c.rec->finish();
  c.rec->run();
  std::vector<float> got = download_f32(ctx, out);
  got.resize(want.size());
  verify(got, want, fmt::format("{} ({} elements)", c.name, elements));
  if (c.rec->dispatch_count() != 1) throw Error(c.name + ": expected exactly one timed dispatch");
  return c;
}

// The cases of one size: copy first (the yardstick), then ours, all on the same tensors.
void add_cases(Context& ctx, Arena& arena, int64_t n, std::vector<Case>& cases) {
  const size_t count = static_cast<size_t>(n);
  Tensor x = make_tensor(arena, {n}, DType::f32, "x");        // (n)
  Tensor y = make_tensor(arena, {n}, DType::f32, "y");        // (n)
  Tensor dx = make_tensor(arena, {n}, DType::f32, "dx");      // (n)
  Tensor step = make_tensor(arena, {2}, DType::u32, "step");  // (2)
  const std::vector<float> xs = random_floats(count, 7);
  upload(ctx, x, std::span<const float>(xs));
  const std::vector<uint32_t> step_words = {uint32_t(k_step), uint32_t(k_step >> 32)};
  upload(ctx, step, std::span<const uint32_t>(step_words));
  const ops::DropoutConfig config{k_p, DropoutScaling::Inverted, k_seed, k_layer};
  const double bytes = 8.0 * static_cast<double>(n);  // one f32 read and one written per element
  std::vector<float> want(count);

  // copy.comp moves quads as the loop-free element-wise kernels do (shaders/quad_sets.glsl), launched as the ops
  // launch theirs.
  const std::vector<uint32_t> copy_constants = ops::quad_set_constants(n, ctx.info());
  const uint32_t local = copy_constants[0];  // the workgroup size
  const std::string copy_name = ops::quad_set_kernel("copy", ctx.info());
  const Kernel& copy = ctx.kernel(copy_name, copy_constants);
  const std::array<uint32_t, 3> copy_groups = ops::quad_set_groups(n, ctx.info());
  const BufferSlice x_quads = ops::quad_binding(ctx, x.slice), y_quads = ops::quad_binding(ctx, y.slice);
  cases.push_back(make_case(ctx, fmt::format("copy (yardstick, {}.comp, workgroup {})", copy_name, local), n, bytes,
                            "—",
                            [&](Recorder& rec) {
                              rec.dispatch(copy, {x.slice, y.slice, x_quads, y_quads}, static_cast<uint32_t>(n),
                                           copy_groups, "copy");
                            },
                            y, xs));
  // Where the element-wise kernels store pairs of quads as 64-bit words, the same copy with a vec4 store a quad.
  if (ops::u64_stores(ctx.info())) {
    const Kernel& copy_vec4 = ctx.kernel("copy", copy_constants);
    cases.push_back(make_case(ctx, "copy with vec4 stores (copy.comp)", n, bytes, "—",
                              [&](Recorder& rec) {
                                rec.dispatch(copy_vec4, {x.slice, y.slice, x_quads, y_quads},
                                             static_cast<uint32_t>(n), copy_groups, "copy");
                              },
                              y, xs));
  }

  ref::dropout_forward(want.data(), xs.data(), int(n), k_p, config.scaling, true, k_seed, k_step, k_layer);
  cases.push_back(make_case(ctx, "dropout forward (train)", n, bytes, "0",
                            [&](Recorder& rec) { ops::dropout_forward(rec, y, x, config, true, step); }, y, want));

  ref::dropout_backward(want.data(), xs.data(), int(n), k_p, config.scaling, k_seed, k_step, k_layer);
  cases.push_back(make_case(ctx, "dropout backward", n, bytes, "0",
                            [&](Recorder& rec) { ops::dropout_backward(rec, dx, x, config, step); }, dx, want));

  // The dropout kernel the other device class runs (ops::dropout_draws_at_once): on a CPU device the one-quad
  // dropout.comp, whose single chain of Philox rounds the interleaved kernel overlaps four at a time.
  ref::dropout_forward(want.data(), xs.data(), int(n), k_p, config.scaling, true, k_seed, k_step, k_layer);
  const uint32_t other_draws = ops::dropout_draws_at_once(ctx.info()) == 1 ? 4 : 1;
  cases.push_back(make_case(ctx,
                            fmt::format("dropout forward (train, {}: the {} kernel)",
                                        other_draws == 1 ? "one draw at a time" : "four draws interleaved",
                                        other_draws == 1 ? "GPU" : "CPU"),
                            n, bytes, "0",
                            [&, other_draws](Recorder& rec) {
                              ops::dropout_forward(rec, y, x, config, true, step, other_draws);
                            },
                            y, want));

  // Eval mode with vanilla scaling runs dropout.comp without drawing the mask: the same loads, stores and
  // launch shape as training, so the gap between the two rows is the cost of Philox.
  const ops::DropoutConfig vanilla{k_p, DropoutScaling::Vanilla, k_seed, k_layer};
  ref::dropout_forward(want.data(), xs.data(), int(n), k_p, vanilla.scaling, false, k_seed, k_step, k_layer);
  cases.push_back(make_case(ctx, "dropout forward (eval, vanilla: no mask drawn)", n, bytes, "0",
                            [&](Recorder& rec) { ops::dropout_forward(rec, y, x, vanilla, false, step); }, y, want));

  // (N, C, 8, 8): 8x8 feature maps, N = 64, as many channels as fit in n.
  const int64_t batch = 64, channels = n / (batch * 64);
  if (channels > 0) {
    const int64_t n2 = batch * channels * 64;
    const uint64_t bytes2 = static_cast<uint64_t>(n2) * 4;
    Tensor x4{x.slice.sub(0, bytes2), {batch, channels, 8, 8}, DType::f32, "x"};  // (N, C, 8, 8)
    Tensor y4{y.slice.sub(0, bytes2), {batch, channels, 8, 8}, DType::f32, "y"};  // (N, C, 8, 8)
    std::vector<float> want2(static_cast<size_t>(n2));
    ref::dropout2d_forward(want2.data(), xs.data(), int(batch), int(channels), 64, k_p, config.scaling, true, k_seed,
                           k_step, k_layer);
    cases.push_back(make_case(ctx, fmt::format("dropout2d forward (train, {}x{}x8x8)", batch, channels), n2,
                              8.0 * static_cast<double>(n2), "0",
                              [&](Recorder& rec) { ops::dropout2d_forward(rec, y4, x4, config, true, step); }, y,
                              want2));
    // On a CPU device the line above is the loop-free kernel (dropout2d_sets.comp); this is the one GPUs run.
    if (ctx.info().is_cpu()) {
      cases.push_back(make_case(ctx, fmt::format("dropout2d forward (train, {}x{}x8x8, the GPU kernel)", batch, channels),
                                n2, 8.0 * static_cast<double>(n2), "0",
                                [&](Recorder& rec) { ops::dropout2d_forward(rec, y4, x4, config, step, false); }, y,
                                want2));
    }
  }

  ref::relu_forward(want.data(), xs.data(), int(n));
  const std::vector<float> relu_y = want;
  cases.push_back(make_case(ctx, "relu forward", n, bytes, "0", [&](Recorder& rec) { ops::relu_forward(rec, y, x); },
                            y, want));

  // relu backward reads dy and y and writes dx: 12 bytes per element. y holds relu's output from above.
  ref::relu_backward(want.data(), xs.data(), relu_y.data(), int(n));
  cases.push_back(make_case(ctx, "relu backward", n, 12.0 * static_cast<double>(n), "0",
                            [&](Recorder& rec) { ops::relu_backward(rec, dx, x, y); }, dx, want));
}

// The threads lavapipe runs (LP_NUM_THREADS, else one per CPU); 1 for other devices, whose copies do not
// run on the CPU: their memcpy row is only the host's.
unsigned copy_threads(const DeviceInfo& device) {
  if (!device.is_cpu()) return 1;
  if (const char* threads = std::getenv("LP_NUM_THREADS")) return std::max(1, std::atoi(threads));
  return std::max(1u, std::thread::hardware_concurrency());
}

// Milliseconds for `threads` threads to memcpy n floats from src to dst, each its own contiguous share.
double memcpy_ms(float* dst, const float* src, size_t n, unsigned threads) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    const size_t begin = n * t / threads, end = n * (t + 1) / threads;
    workers.emplace_back([=] { std::memcpy(dst + begin, src + begin, (end - begin) * sizeof(float)); });
  }
  for (std::thread& w : workers) w.join();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes;
  int replays = 21;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--elements" && i + 1 < argc) {
      sizes.push_back(std::atoll(argv[++i]));
    } else if (arg == "--replays" && i + 1 < argc) {
      replays = std::max(1, std::atoi(argv[++i]));
    } else {
      fmt::print(stderr, "usage: {} [--elements N ...] [--replays R]\n", argv[0]);
      return 2;
    }
  }
  // 16M floats is 64 MiB per tensor, under lavapipe's 128 MiB per binding; 1M fits in caches.
  if (sizes.empty()) sizes = {int64_t{1} << 24, int64_t{1} << 20};
  try {
    Context ctx;
    if (const auto status = bench::timed_per_lane_width(argv, ctx)) return *status;
    // Arenas first: the cases' tensors live in them.
    std::vector<Arena> arenas;
    arenas.reserve(sizes.size());
    std::vector<std::vector<Case>> sized(sizes.size());
    for (size_t s = 0; s < sizes.size(); ++s) {
      arenas.emplace_back(ctx, static_cast<uint64_t>(sizes[s]) * 4 + 4096);
      add_cases(ctx, arenas.back(), sizes[s], sized[s]);
    }
    // Round-robin replays: every round times each kernel once, so a change in machine load (the cores may
    // be shared) shifts all kernels alike instead of whichever happened to run at the time.
    const unsigned threads = copy_threads(ctx.info());
    std::vector<std::vector<double>> memcpy_times(sizes.size());
    for (size_t s = 0; s < sizes.size(); ++s) {
      const size_t n = static_cast<size_t>(sizes[s]);
      std::vector<float> src = random_floats(n, 9), dst(n);
      memcpy_ms(dst.data(), src.data(), n, threads);  // warm-up: touches every page
      for (Case& c : sized[s]) c.rec->run(2);         // warm-up
      for (int r = 0; r < replays; ++r) {
        memcpy_times[s].push_back(memcpy_ms(dst.data(), src.data(), n, threads));
        for (Case& c : sized[s]) {
          c.rec->run();
          c.ms.push_back(c.rec->timings().at(0).milliseconds);
        }
      }
    }
    fmt::print("device: {} ({}), {} subgroup lanes, p = {}, median of {} replays, GPU timestamps; memcpy: {} "
               "thread{}, wall clock\n\n", ctx.info().name, ctx.info().driver, ctx.info().subgroup_size, k_p, replays,
               threads, threads == 1 ? "" : "s");
    fmt::print("| kernel | elements | GB/s | % of memcpy | % of copy kernel | extra bytes/element kept for backward |\n");
    fmt::print("|---|---:|---:|---:|---:|---:|\n");
    for (size_t s = 0; s < sizes.size(); ++s) {
      const std::vector<Case>& cases = sized[s];
      const double physical = gbps(8.0 * static_cast<double>(sizes[s]), median(memcpy_times[s]));
      const double copy = gbps(cases.front().bytes, median(cases.front().ms));
      fmt::print("| memcpy ({} thread{}, the physical limit) | {} | {:.2f} | 100% | {:.0f}% | — |\n", threads,
                 threads == 1 ? "" : "s", sizes[s], physical, 100.0 * physical / copy);
      for (const Case& c : cases) {
        const double rate = gbps(c.bytes, median(c.ms));
        fmt::print("| {} | {} | {:.2f} | {:.0f}% | {:.0f}% | {} |\n", c.name, c.elements, rate, 100.0 * rate / physical,
                   100.0 * rate / copy, c.extra_bytes);
      }
    }
    // On a GPU the physical limit is the card's memory, not the host's memcpy: PyTorch's device-to-device
    // copy measures it, and PyTorch's dropout is the peer.
    if (!ctx.info().is_cpu()) {
      fmt::print("\nOn the same GPU through PyTorch (bench/torch_cuda.py, CUDA events):\n\n| kernel | elements | GB/s | "
                 "vkdrop's dropout forward / this |\n|---|---:|---:|---:|\n");
      std::string peer;
      for (size_t s = 0; s < sizes.size(); ++s) {
        const auto cuda = bench::python_peer("", "torch_cuda.py", fmt::format("dropout {}", sizes[s]),
                                             "set VKDROP_PYTHON to a python3 whose torch has CUDA.");
        if (!cuda) break;
        const double ours = gbps(sized[s][1].bytes, median(sized[s][1].ms));  // cases: copy, dropout forward, ...
        for (const char* key : {"copy_gbps", "dropout_gbps"}) {
          const double theirs = (*cuda)[key].get<double>();
          fmt::print("| {} | {} | {:.1f} | {:.0f}% |\n",
                     std::string(key) == "copy_gbps" ? "PyTorch copy_ (device to device: the physical limit)"
                                                     : "PyTorch dropout forward (train, p = 0.5; writes a 1-byte mask too)",
                     sizes[s], theirs, 100.0 * ours / theirs);
        }
        peer = fmt::format("PyTorch {} on {}", (*cuda)["torch"].get<std::string>(), (*cuda)["device"].get<std::string>());
      }
      if (!peer.empty()) fmt::print("\n{}.\n", peer);
    }
    fmt::print("\nGB/s counts the bytes each kernel reads and writes (8 per element; 12 for relu backward; memcpy "
               "8). PyTorch's dropout keeps a 1-byte mask per element for backward; these kernels keep none.\n");
  } catch (const Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}

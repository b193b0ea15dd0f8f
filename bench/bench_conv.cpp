// bench_conv: the sample CNN's two convolutions (samples/mnist_mlp --model cnn, batch 128) op by op, forward
// and backward: im2col, the three products, the moves between NCHW and the products' layout, the bias
// gradient and col2im. Each conv's passes are recorded once with a GPU timestamp after every dispatch and
// replayed; a table gives each dispatch's median time over the replays, at each of lavapipe's lane widths.
// Written to tell where a conv's time goes and to compare kernel variants on a noisy machine: all of a
// replay's dispatches run back to back, so a change in machine load shifts them alike.
//
//   bench_conv [--replays R]
#include <vkdrop/ops/conv2d.hpp>
#include <vkdrop/runtime/arena.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include "bench_support.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

using vkdrop::bench::median;
using vkdrop::bench::random_floats;

using namespace vkdrop;

struct Conv {
  const char* name;
  int64_t N, C, H, W, OC;  // 3x3 kernel, stride 1, padding 1: the output is H x W
};

// Records conv's forward and backward (the layer's way: dcols over cols) and returns the median milliseconds
// of each dispatch over `replays`, in recording order.
std::vector<std::pair<std::string, double>> time_conv(Context& ctx, const Conv& c, int replays) {
  const Conv2dGeometry g{3, 1, 1};
  const int64_t positions = c.N * c.H * c.W, taps = c.C * 9;
  const int64_t partials = std::max<int64_t>(1, ops::conv2d_partials_elements(positions, taps, c.OC));
  const int64_t floats = 2 * c.N * c.C * c.H * c.W + 2 * c.N * c.OC * c.H * c.W + taps * positions +
                         c.OC * positions + 2 * (c.OC * taps + c.OC) + partials;
  Arena arena(ctx, static_cast<uint64_t>(floats) * 4 + (64 << 10));
  Tensor x = make_tensor(arena, {c.N, c.C, c.H, c.W}, DType::f32, "x");
  Tensor dx = make_tensor(arena, {c.N, c.C, c.H, c.W}, DType::f32, "dx");
  Tensor y = make_tensor(arena, {c.N, c.OC, c.H, c.W}, DType::f32, "y");
  Tensor dy = make_tensor(arena, {c.N, c.OC, c.H, c.W}, DType::f32, "dy");
  Tensor cols = make_tensor(arena, {positions, taps}, DType::f32, "cols");
  Tensor rows = make_tensor(arena, {c.OC, positions}, DType::f32, "rows");
  Tensor w = make_tensor(arena, {c.OC, c.C, 3, 3}, DType::f32, "w");
  Tensor dw = make_tensor(arena, {c.OC, c.C, 3, 3}, DType::f32, "dw");
  Tensor b = make_tensor(arena, {c.OC}, DType::f32, "b"), db = make_tensor(arena, {c.OC}, DType::f32, "db");
  Tensor split = make_tensor(arena, {partials}, DType::f32, "partials");
  upload(ctx, x, std::span<const float>(random_floats(static_cast<size_t>(x.numel()), 1)));
  upload(ctx, dy, std::span<const float>(random_floats(static_cast<size_t>(dy.numel()), 2)));
  upload(ctx, w, std::span<const float>(random_floats(static_cast<size_t>(w.numel()), 3)));
  upload(ctx, b, std::span<const float>(random_floats(static_cast<size_t>(b.numel()), 4)));

  Recorder rec(ctx, RecorderOptions{.timestamps = true});
  ops::conv2d_forward(rec, y, cols, rows, x, w, &b, g, &split);
  ops::conv2d_backward(rec, &dx, dw, &db, /*dcols=*/cols, rows, dy, x, cols, w, g, &split);
  rec.finish();
  rec.run(2);  // warm-up
  std::vector<std::vector<double>> ms;
  std::vector<std::string> labels;
  for (int r = 0; r < replays; ++r) {
    rec.run();
    const auto timings = rec.timings();
    ms.resize(timings.size());
    labels.resize(timings.size());
    for (size_t i = 0; i < timings.size(); ++i) {
      ms[i].push_back(timings[i].milliseconds);
      labels[i] = timings[i].label;
    }
  }
  std::vector<std::pair<std::string, double>> out;
  for (size_t i = 0; i < ms.size(); ++i) out.emplace_back(labels[i], median(ms[i]));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int replays = 9;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--replays" && i + 1 < argc) {
      replays = std::max(1, std::atoi(argv[++i]));
    } else {
      fmt::print(stderr, "usage: {} [--replays R]\n", argv[0]);
      return 2;
    }
  }
  try {
    Context ctx;
    if (const auto status = bench::timed_per_lane_width(argv, ctx)) return *status;
    fmt::print("device: {} ({}), {} subgroup lanes, median of {} replays, GPU timestamps\n\n", ctx.info().name,
               ctx.info().driver, ctx.info().subgroup_size, replays);
    const Conv convs[] = {{"conv 1: (128, 1, 28, 28) -> 32 channels, 3x3, padding 1", 128, 1, 28, 28, 32},
                          {"conv 2: (128, 32, 14, 14) -> 64 channels, 3x3, padding 1", 128, 32, 14, 14, 64}};
    for (const Conv& c : convs) {
      const auto times = time_conv(ctx, c, replays);
      double total = 0;
      fmt::print("{}\n\n| dispatch | ms |\n|---|---:|\n", c.name);
      for (const auto& [label, t] : times) {
        fmt::print("| {} | {:.3f} |\n", label, t);
        total += t;
      }
      fmt::print("| **all** | **{:.3f}** |\n\n", total);
    }
  } catch (const vkdrop::Error& e) {
    fmt::print(stderr, "bench_conv: {}\n", e.what());
    return 1;
  }
  return 0;
}

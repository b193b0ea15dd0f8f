// bench_train: training throughput of the Srivastava et al. 2014 dropout MLP (784-1024-1024-1024-10, ReLU,
// dropout 0.2/0.5, momentum SGD, max-norm) and of the sample's CNN (two Conv-BatchNorm-ReLU-Dropout2d-MaxPool
// blocks, then a dropout MLP) at batch 128, and in the same run the same models in PyTorch on the CPU with the
// same thread count: once with the BLAS kernels OpenBLAS detects, once with the best this CPU has
// (OPENBLAS_CORETYPE=SkylakeX with AVX-512, Haswell with AVX2), each named; on a GPU, the same models in
// PyTorch on that GPU with CUDA. Also: host time per step spent
// submitting (replay makes it ~0), and the fraction of wall time the device is busy.
#include <vkdrop/datasets/device_dataset.hpp>
#include <vkdrop/datasets/mnist.hpp>
#include <vkdrop/layers/batch_norm2d.hpp>
#include <vkdrop/layers/conv2d.hpp>
#include <vkdrop/layers/dropout.hpp>
#include <vkdrop/layers/flatten.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/max_pool2d.hpp>
#include <vkdrop/layers/relu.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/train/model.hpp>

#include "bench_support.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace {

using vkdrop::Sequential;

Sequential paper_net() {
  using namespace vkdrop;
  return Sequential{Dropout(0.2), Linear(784, 1024), ReLU(), Dropout(0.5), Linear(1024, 1024), ReLU(), Dropout(0.5),
                    Linear(1024, 1024), ReLU(), Dropout(0.5), Linear(1024, 10)};
}

// samples/mnist_mlp --model cnn with its defaults.
Sequential sample_cnn() {
  using namespace vkdrop;
  return Sequential{Conv2d(1, 32, 3, 1, 1), BatchNorm2d(32), ReLU(), Dropout2d(0.1), MaxPool2d(2),
                    Conv2d(32, 64, 3, 1, 1), BatchNorm2d(64), ReLU(), Dropout2d(0.1), MaxPool2d(2),
                    Flatten(), Linear(64 * 7 * 7, 256), ReLU(), Dropout(0.5), Linear(256, 10)};
}

// Runs the PyTorch peer on the CPU (with OPENBLAS_CORETYPE = `kernels` unless empty) or, with cuda, on the
// GPU; nullopt (with the reason printed) when it cannot.
std::optional<nlohmann::json> pytorch_samples_per_s(const std::string& model, int threads, int steps,
                                                    const std::string& kernels, bool cuda) {
  return vkdrop::bench::python_peer(
      kernels.empty() ? "" : fmt::format("OPENBLAS_CORETYPE={} ", kernels), "torch_train.py",
      fmt::format("--model {} --threads {} --steps {}{}", model, threads, steps, cuda ? " --device cuda" : ""),
      cuda ? "PyTorch with CUDA (set VKDROP_PYTHON to its python3) is needed to compare on a GPU."
           : "install python3-torch libopenblas0-pthread to compare.");
}

struct Measured {
  double samples_per_s, step_ms, host_us, busy_ms;
  uint64_t arena_bytes;
  std::vector<vkdrop::DispatchTiming> timings;
};

// Two epochs of `steps` batches (the first records and builds the pipelines), then one profiled epoch.
Measured measure(vkdrop::Context& ctx, const Sequential& net, const vkdrop::Shape& sample,
                 const std::vector<uint8_t>& images, const std::vector<uint8_t>& labels, int64_t steps) {
  const int64_t batch = 128;
  vkdrop::DeviceDataset data(ctx, std::span(images).first(static_cast<size_t>(steps * batch * 784)), sample,
                             std::span(labels).first(static_cast<size_t>(steps * batch)), "MNIST train");
  vkdrop::TrainConfig config;
  config.batch_size = batch;
  config.eval_batch_size = batch;  // the model's eval scratch (a conv's im2col buffer) at the training size
  config.schedule.lr = 0.05;
  config.schedule.momentum = 0.95;
  config.max_norm = 3.5;
  vkdrop::Model model(ctx, net, sample, config);
  model.train_epoch(data);  // warm-up: records the step, builds the pipelines
  const auto start = std::chrono::steady_clock::now();
  model.train_epoch(data);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Measured m{static_cast<double>(steps * batch) / seconds, seconds / static_cast<double>(steps) * 1e3,
             model.host_seconds_per_step() * 1e6, 0, model.arena_bytes(), {}};

  // Device busy fraction: GPU time of one profiled step over the wall time of a step.
  config.profile = true;
  vkdrop::Model profiled(ctx, net, sample, config);
  profiled.train_epoch(data);
  m.timings = profiled.step_timings();
  for (const auto& t : m.timings) m.busy_ms += t.milliseconds;
  return m;
}

}  // namespace

int main(int, char** argv) {
  try {
    vkdrop::Context ctx;
    // On lavapipe: once per vector width (4, 8, 16 lanes), PyTorch again beside each.
    const int per_width = vkdrop::bench::rerun_at_each_lane_width(argv, vkdrop::bench::is_lavapipe(ctx.info().driver));
    if (per_width >= 0) return per_width;
    const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    fmt::print("device: {} ({}), host threads: {}\n", ctx.info().name, ctx.info().driver, threads);

    // Real MNIST when it is there (./vkdrop.sh bench fetches it); the speed does not depend on the pixels.
    std::vector<uint8_t> images, labels;
    try {
      vkdrop::Mnist mnist = vkdrop::load_mnist(vkdrop::default_data_dir());
      images = std::move(mnist.train.images);
      labels = std::move(mnist.train.labels);
    } catch (const vkdrop::DataError&) {
      images.assign(60000 * 784, 0);
      labels.assign(60000, 0);
      for (size_t i = 0; i < images.size(); ++i) images[i] = static_cast<uint8_t>(i * 2654435761u >> 24);
      for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<uint8_t>(i % 10);
    }
    const bool gpu = !ctx.info().is_cpu();
    const std::string best = vkdrop::bench::best_openblas_kernels();
    struct Row {
      const char* name;
      const char* peer;
      Sequential net;
      vkdrop::Shape sample;
      int64_t steps;
      int peer_steps;
    };
    const std::vector<Row> rows = {
        {"784-1024-1024-1024-10 dropout MLP", "mlp", paper_net(), {784}, gpu ? 400 : 60, gpu ? 200 : 40},
        {"CNN of samples/mnist_mlp --model cnn", "cnn", sample_cnn(), {1, 28, 28}, gpu ? 200 : 12, gpu ? 100 : 8},
    };
    // On a GPU the peer is PyTorch on the same GPU; on a CPU device, PyTorch on the same cores, with the BLAS
    // kernels as detected and with the best this CPU has.
    if (gpu) {
      fmt::print("\n| model (batch 128) | vkdrop samples/s | PyTorch CUDA samples/s | vkdrop/PyTorch |\n|---|---:|---:|---:|\n");
    } else {
      fmt::print("\n| model (batch 128) | vkdrop samples/s | PyTorch CPU, BLAS as detected | vkdrop/PyTorch | PyTorch CPU, "
                 "OPENBLAS_CORETYPE={} | vkdrop/PyTorch |\n|---|---:|---:|---:|---:|---:|\n",
                 best.empty() ? "(none better)" : best);
    }
    std::vector<Measured> measured;
    std::string peer_info;
    for (const Row& row : rows) {
      measured.push_back(measure(ctx, row.net, row.sample, images, labels, row.steps));
      const double ours = measured.back().samples_per_s;
      std::string cells;
      const std::vector<std::string> peer_kernels = gpu ? std::vector<std::string>{""} : std::vector<std::string>{"", best};
      for (const std::string& kernels : peer_kernels) {
        const auto torch = kernels.empty() || !best.empty()
                               ? pytorch_samples_per_s(row.peer, threads, row.peer_steps, kernels, gpu)
                               : std::nullopt;
        if (!torch) {
          cells += " n/a | n/a |";
          continue;
        }
        const double theirs = (*torch)["samples_per_s"].get<double>();
        cells += gpu ? fmt::format(" {:.0f} | {:.2f} |", theirs, ours / theirs)
                     : fmt::format(" {:.0f} ({}) | {:.2f} |", theirs, (*torch).value("blas_kernels", "?"), ours / theirs);
        peer_info = gpu ? fmt::format("PyTorch {} on {}", (*torch)["torch"].get<std::string>(),
                                      (*torch).value("device", "?"))
                        : fmt::format("PyTorch {} with {} threads, BLAS {}; the BLAS kernels each run used are in "
                                      "parentheses", (*torch)["torch"].get<std::string>(),
                                      (*torch)["threads"].get<int>(), (*torch)["blas"].get<std::string>());
      }
      fmt::print("| {} | {:.0f} |{}\n", row.name, ours, cells);
    }
    if (!peer_info.empty()) fmt::print("\n{}.\n", peer_info);
    for (size_t i = 0; i < rows.size(); ++i) {
      const Measured& m = measured[i];
      fmt::print("\n{}:\n| measure | value |\n|---|---:|\n", rows[i].name);
      fmt::print("| wall time per step | {:.2f} ms |\n", m.step_ms);
      fmt::print("| host time per step to submit (replay) | {:.1f} us |\n", m.host_us);
      fmt::print("| device busy (sum of dispatch times / wall) | {:.0f} % |\n", 100 * m.busy_ms / m.step_ms);
      fmt::print("| arena | {:.1f} MiB |\n", static_cast<double>(m.arena_bytes) / (1 << 20));
      if (m.busy_ms > m.step_ms) {
        fmt::print("\nDevice busy over 100 %: the dispatches of the profiled run, timed one by one, took longer than a\n"
                   "whole unprofiled step; the device is never idle.\n");
      }
      fmt::print("\nGPU time per dispatch of one step (profiled run):\n");
      for (const auto& t : m.timings) fmt::print("  {:8.3f} ms  {}\n", t.milliseconds, t.label);
    }
    return 0;
  } catch (const vkdrop::Error& e) {
    std::fprintf(stderr, "bench_train: %s\n", e.what());
    return 1;
  }
}

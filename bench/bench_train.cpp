// bench_train: training throughput of the Srivastava et al. 2014 dropout MLP (784-1024-1024-1024-10, ReLU,
// dropout 0.2/0.5, momentum SGD, max-norm) at batch 128, and in the same run the same model in PyTorch on
// the CPU with the same thread count. Also: host time per step spent submitting (replay makes it ~0), and
// the fraction of wall time the device is busy.
#include <vkdrop/datasets/device_dataset.hpp>
#include <vkdrop/datasets/mnist.hpp>
#include <vkdrop/layers/dropout.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/relu.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/train/model.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

namespace {

vkdrop::Sequential paper_net() {
  using namespace vkdrop;
  return Sequential{Dropout(0.2), Linear(784, 1024), ReLU(), Dropout(0.5), Linear(1024, 1024), ReLU(), Dropout(0.5),
                    Linear(1024, 1024), ReLU(), Dropout(0.5), Linear(1024, 10)};
}

// Runs the PyTorch peer; nullopt (with the reason printed) when it cannot.
std::optional<nlohmann::json> pytorch_samples_per_s(int threads, int steps) {
  const std::string cmd = fmt::format("/usr/bin/python3 {}/bench/torch_mlp.py --threads {} --steps {} 2>&1",
                                      VKDROP_SOURCE_DIR, threads, steps);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return std::nullopt;
  std::string out;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
  const auto brace = out.rfind('{');
  if (brace != std::string::npos) {
    try {
      return nlohmann::json::parse(out.substr(brace));
    } catch (const std::exception&) {
    }
  }
  fmt::print("PyTorch peer unavailable ({}); install python3-torch libopenblas0-pthread to compare.\n",
             out.empty() ? "no output" : out.substr(0, out.find('\n')));
  return std::nullopt;
}

}  // namespace

int main() {
  try {
    vkdrop::Context ctx;
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
    const int64_t batch = 128;
    const bool gpu = !ctx.info().is_cpu();
    const int64_t steps = gpu ? 400 : 60;
    // One "epoch" of exactly `steps` batches: the first samples of the training set.
    images.resize(static_cast<size_t>(steps * batch * 784));
    labels.resize(static_cast<size_t>(steps * batch));
    vkdrop::DeviceDataset data(ctx, images, {784}, labels, "MNIST train");

    vkdrop::TrainConfig config;
    config.batch_size = batch;
    config.schedule.lr = 0.05;
    config.schedule.momentum = 0.95;
    config.max_norm = 3.5;
    vkdrop::Model model(ctx, paper_net(), {784}, config);
    model.train_epoch(data);  // warm-up: records the step, builds the pipelines
    const auto start = std::chrono::steady_clock::now();
    model.train_epoch(data);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double ours = static_cast<double>(steps * batch) / seconds;
    const double host_us = model.host_seconds_per_step() * 1e6;

    // Device busy fraction: GPU time of one profiled step over the wall time of a step.
    config.profile = true;
    vkdrop::Model profiled(ctx, paper_net(), {784}, config);
    profiled.train_epoch(data);
    double busy_ms = 0;
    const auto timings = profiled.step_timings();
    for (const auto& t : timings) busy_ms += t.milliseconds;
    const double step_ms = seconds / static_cast<double>(steps) * 1e3;

    const auto torch = pytorch_samples_per_s(threads, gpu ? 200 : 40);
    fmt::print("\n| model (batch {}) | vkdrop samples/s | PyTorch CPU samples/s | vkdrop/PyTorch |\n", batch);
    fmt::print("|---|---:|---:|---:|\n");
    if (torch) {
      const double theirs = (*torch)["samples_per_s"].get<double>();
      fmt::print("| 784-1024-1024-1024-10 dropout MLP | {:.0f} | {:.0f} | {:.2f} |\n", ours, theirs, ours / theirs);
      fmt::print("\nPyTorch {} with {} threads, BLAS: {}\n", (*torch)["torch"].get<std::string>(),
                 (*torch)["threads"].get<int>(), (*torch)["blas"].get<std::string>());
    } else {
      fmt::print("| 784-1024-1024-1024-10 dropout MLP | {:.0f} | n/a | n/a |\n", ours);
    }
    fmt::print("\n| measure | value |\n|---|---:|\n");
    fmt::print("| wall time per step | {:.2f} ms |\n", step_ms);
    fmt::print("| host time per step to submit (replay) | {:.1f} us |\n", host_us);
    fmt::print("| device busy (sum of dispatch times / wall) | {:.0f} % |\n", 100 * busy_ms / step_ms);
    fmt::print("| arena | {:.1f} MiB |\n", static_cast<double>(model.arena_bytes()) / (1 << 20));
    if (busy_ms > step_ms) {
      fmt::print("\nDevice busy over 100 %: the dispatches of the profiled run, timed one by one, took longer than a\n"
                 "whole unprofiled step; the device is never idle.\n");
    }
    fmt::print("\nGPU time per dispatch of one step (profiled run):\n");
    for (const auto& t : timings) fmt::print("  {:8.3f} ms  {}\n", t.milliseconds, t.label);
    return 0;
  } catch (const vkdrop::Error& e) {
    std::fprintf(stderr, "bench_train: %s\n", e.what());
    return 1;
  }
}

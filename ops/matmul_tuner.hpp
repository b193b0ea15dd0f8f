#pragma once
// Autotuning of matmul's tiling, per device and product shape. Which tile a GPU runs fastest (64 x 64 with 4 x 4
// an invocation, 128 x 128 with 8 x 8, ...) depends on its multiprocessors, registers and caches, which Vulkan
// does not describe, so it cannot be derived from DeviceInfo. On first use of a product shape the tuner times
// each candidate tiling the device can run (matmul_candidates) on scratch buffers and keeps the fastest, in
// memory and in a JSON file beside the pipeline cache (the same directory, the same device key), so later runs
// take it without measuring.
//
// A tuned tiling changes the speed, never the bits: each output sums its k-steps in the same order whatever the
// tile (the shared path's fma chain, the register path's block-independent order), and where K is split is
// decided from a fixed nominal tiling (ops/matmul.cpp). tests/test_matmul_tuner checks both.
//
// A tuned tiling that is not the derived one is named in the product's dispatch label (profiles show it).
//
// On by default on GPUs, off on CPU devices (lavapipe's choice is derived from its subgroup size, and each
// candidate costs seconds of LLVM compilation there). VKDROP_MATMUL_AUTOTUNE=1 turns it on, =0 off;
// MatmulTuner::set_enabled overrides both. The file (one per device, driver and subgroup size) is only a cache: one
// that cannot be read or parsed, or that names another device, is a warning and the products are measured again;
// an entry whose tiling is not a candidate here is measured again; one that cannot be written is a warning and the
// run keeps its measurements in memory. Before writing, a tuner takes in the products other processes wrote since
// it read the file. Where the device has no memory for a measurement's scratch operands, the product takes the
// derived tiling for this run, and nothing about it is written.

#include <vkdrop/ops/matmul.hpp>
#include <vkdrop/runtime/context.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace vkdrop::ops {

// A product as the tuner tells them apart: C (M, N) = op(A) (M, K) · op(B) (K, N), and whether K may be split
// (matmul was given partials). The bias does not change the tiling.
struct MatmulShape {
  uint32_t M = 0, N = 0, K = 0;
  bool trans_a = false, trans_b = false;
  bool split = false;
  // "128x1024x784 a bT split": the key in the tuning file.
  std::string key() const;
};

// The tilings worth timing on this device, the one matmul_tiling derives first: on GPUs shared-memory tiles from
// 32 x 32 to 128 x 128 with 2 x 2 to 8 x 8 outputs an invocation, within the device's workgroup and shared-memory
// limits; on CPU devices the register blocks of its subgroup size (64 x 8, 32 x 16, 32 x 8).
std::vector<MatmulTiling> matmul_candidates(const DeviceInfo& device);

class MatmulTuner : public ContextExtension {
 public:
  explicit MatmulTuner(Context& context);

  bool enabled() const { return enabled_.load(); }
  void set_enabled(bool enabled) { enabled_.store(enabled); }

  // The fastest candidate for this product: remembered, read from the file, or measured now (a few milliseconds
  // per candidate on a GPU, plus compiling it) and then written to the file. M, N and K >= 1. Where the device
  // has no memory left for the scratch operands of a measurement, a warning, and the derived tiling for this run.
  MatmulTiling tiling_for(const MatmulShape& shape);

  // Products this tuner has measured (not found in memory or in the file).
  uint32_t measured() const { return measured_; }
  const std::filesystem::path& file() const { return file_; }

 private:
  struct Entry {
    MatmulTiling tiling;
    std::optional<double> microseconds;
  };
  MatmulTiling measure(const MatmulShape& shape);
  void read_file();
  // The file's products whose tilings are candidates here; `why` says why the whole file is ignored, if it is.
  std::map<std::string, Entry> read_entries(std::string* why) const;
  void write_file();

  Context& context_;
  std::atomic<bool> enabled_;
  std::filesystem::path file_;
  std::vector<MatmulTiling> candidates_;
  std::mutex mutex_;
  std::map<std::string, MatmulTiling> chosen_;        // by MatmulShape::key
  std::map<std::string, double> chosen_microseconds_;  // the time it measured, for the file's readers
  std::map<std::string, MatmulTiling> fallback_;       // not measured (no memory): this run only, never written
  uint32_t measured_ = 0;
  bool file_read_ = false;  // read on first use, so a tuner that is off never touches the file
};

// The tuner of this Context.
MatmulTuner& matmul_tuner(Context& context);

}  // namespace vkdrop::ops

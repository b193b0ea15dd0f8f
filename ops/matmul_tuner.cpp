#include <vkdrop/ops/matmul_tuner.hpp>

#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/runtime/arena.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

namespace vkdrop::ops {
namespace {

// The file's first fields: a file without them, or with other values, is not ours to read.
constexpr const char* k_format = "vkdrop matmul tilings";
constexpr int k_format_version = 1;

// A sample of a candidate is this many replays of the product back to back, enough for about this long, so that
// the submission's own cost (tens of microseconds) does not decide between tilings of a small product.
constexpr double k_sample_seconds = 2e-3;
constexpr uint32_t k_max_replays = 256;
constexpr int k_samples = 3;

bool enabled_by_default(const DeviceInfo& device) {
  const char* text = std::getenv("VKDROP_MATMUL_AUTOTUNE");
  if (text == nullptr || *text == '\0') return !device.is_cpu();
  const std::string value = text;
  if (value == "1") return true;
  if (value == "0") return false;
  throw ArgumentError(fmt::format("VKDROP_MATMUL_AUTOTUNE is '{}'; it takes 1 (measure matmul tilings per device and "
                                  "product shape) or 0 (use the derived tiling), or unset (GPUs only)",
                                  value));
}

// Beside the pipeline cache, keyed like it (the device's pipeline-cache UUID and driver version) and by the subgroup
// size, which lavapipe lets the user change (LP_NATIVE_VECTOR_WIDTH) under one UUID and whose candidates differ:
// pipelines-<uuid>-<version>.bin -> matmul-tilings-<uuid>-<version>-<lanes>lanes.json.
std::filesystem::path tuning_file(const Context& context) {
  const std::filesystem::path& cache = context.pipeline_cache_path();
  std::string stem = cache.stem().string();
  const std::string prefix = "pipelines";
  if (stem.rfind(prefix, 0) == 0) stem = stem.substr(prefix.size());
  return cache.parent_path() /
         fmt::format("matmul-tilings{}-{}lanes.json", stem, context.info().subgroup_size);
}

nlohmann::json to_json(const MatmulTiling& t) {
  nlohmann::json j = {{"tile_m", t.tile_m},     {"tile_n", t.tile_n},         {"tile_k", t.tile_k},
                      {"thread_m", t.thread_m}, {"thread_n", t.thread_n},     {"shared_memory", t.shared},
                      {"load_x", t.load_x},     {"u64_stores", t.u64_stores}};
  if (t.prefetch) j["prefetch"] = true;  // only when set: the files written before it existed still read
  return j;
}

// The tiling an entry names, if it is exactly one of the candidates (anything else, a hand edit or another
// version's tiling, is measured again).
std::optional<MatmulTiling> from_json(const nlohmann::json& entry, const std::vector<MatmulTiling>& candidates) {
  if (!entry.is_object()) return std::nullopt;
  nlohmann::json tiling = entry;
  tiling.erase("microseconds");
  for (const MatmulTiling& c : candidates) {
    if (tiling == to_json(c)) return c;
  }
  return std::nullopt;
}

void warn(const std::string& text) { std::cerr << "vkdrop: warning: " << text << "\n"; }

}  // namespace

std::string MatmulShape::key() const {
  return fmt::format("{}x{}x{} {} {} {}", M, N, K, trans_a ? "aT" : "a", trans_b ? "bT" : "b", split ? "split" : "whole");
}

std::vector<MatmulTiling> matmul_candidates(const DeviceInfo& device) {
  const MatmulTiling derived = matmul_untuned_tiling(device);
  std::vector<MatmulTiling> all = {derived};
  if (derived.shared) {
    // {tile_m, tile_n, tile_k, thread_m, thread_n}: 256 invocations but for the 8 x 8 on 64 x 64 (64, for many
    // workgroups a multiprocessor); K-slices of 8 or 16 floats (2 to 16 KiB of shared memory).
    for (const auto& [tm, tn, tk, rm, rn] : std::vector<std::array<uint32_t, 5>>{
             {128, 128, 8, 8, 8}, {128, 128, 16, 8, 8}, {128, 64, 16, 8, 4}, {64, 128, 16, 4, 8}, {64, 64, 16, 8, 8},
             {32, 32, 16, 2, 2}}) {
      all.push_back(MatmulTiling{tm, tn, tk, rm, rn, true});
    }
    // The next K-slice loaded into registers while this one is multiplied: for tiles that leave a multiprocessor few
    // workgroups to hide the loads' latency behind (a batch of 128 rows gives a 1024-column product 32 tiles of 64 x 64).
    for (const auto& [tm, tn, tk, rm, rn] : std::vector<std::array<uint32_t, 5>>{
             {64, 64, 16, 4, 4}, {128, 128, 8, 8, 8}, {64, 64, 16, 8, 8}, {32, 32, 16, 2, 2}}) {
      all.push_back(MatmulTiling{tm, tn, tk, rm, rn, true, false, false, /*prefetch=*/true});
    }
  } else {
    // Register blocks of 512 or 256 accumulators a lane; more take LLVM seconds to compile on lavapipe.
    const uint32_t lanes = derived.tile_n / derived.thread_n;
    for (const auto& [rm, rn] : std::vector<std::array<uint32_t, 2>>{{64, 8}, {32, 16}, {32, 8}}) {
      all.push_back(MatmulTiling{rm, lanes * rn, derived.tile_k, rm, rn, false, derived.load_x, derived.u64_stores});
    }
  }
  std::vector<MatmulTiling> runnable;
  for (const MatmulTiling& t : all) {
    if (matmul_tiling_problem(t, device).empty() && std::find(runnable.begin(), runnable.end(), t) == runnable.end())
      runnable.push_back(t);
  }
  return runnable;
}

MatmulTuner::MatmulTuner(Context& context)
    : context_(context),
      enabled_(enabled_by_default(context.info())),
      file_(tuning_file(context)),
      candidates_(matmul_candidates(context.info())) {}

MatmulTiling MatmulTuner::tiling_for(const MatmulShape& shape) {
  if (shape.M == 0 || shape.N == 0 || shape.K == 0) {
    throw ArgumentError(fmt::format("MatmulTuner: product {} has no multiply-adds to time", shape.key()));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (candidates_.empty()) return matmul_untuned_tiling(context_.info());  // nothing runs here: matmul says why
  if (!file_read_) {
    file_read_ = true;  // once, even if it is ignored
    read_file();
  }
  const std::string key = shape.key();
  if (auto it = chosen_.find(key); it != chosen_.end()) return it->second;
  if (auto it = fallback_.find(key); it != fallback_.end()) return it->second;
  try {
    const MatmulTiling best = measure(shape);
    ++measured_;
    write_file();
    return best;
  } catch (const VulkanError& e) {
    // The scratch operands did not fit beside what the device already holds: the product itself may, so it
    // takes the derived tiling (for this run; nothing is written). A lost device and the rest are not ours to hide.
    if (e.result() != VK_ERROR_OUT_OF_DEVICE_MEMORY && e.result() != VK_ERROR_OUT_OF_HOST_MEMORY) throw;
    warn(fmt::format("could not measure matmul tilings for {} ({}); it takes {}", key, e.what(),
                     matmul_tiling_text(candidates_.front())));
    fallback_[key] = candidates_.front();  // never written: a later run measures it
    return candidates_.front();
  }
}

MatmulTiling MatmulTuner::measure(const MatmulShape& s) {
  const int64_t M = s.M, N = s.N, K = s.K;
  const int64_t partial_floats = std::max<int64_t>(1, matmul_partials_elements(M, N, K));
  const int64_t floats = M * K + K * N + M * N + partial_floats;
  Arena arena(context_, uint64_t(floats) * sizeof(float) + (4u << 20));  // room for the slices' alignment
  const Tensor a = make_tensor(arena, s.trans_a ? Shape{K, M} : Shape{M, K}, DType::f32, "tuning a");
  const Tensor b = make_tensor(arena, s.trans_b ? Shape{N, K} : Shape{K, N}, DType::f32, "tuning b");
  const Tensor c = make_tensor(arena, {M, N}, DType::f32, "tuning c");
  const Tensor partials = make_tensor(arena, {partial_floats}, DType::f32, "tuning partials");
  {
    // Zeros: the timing of a float product does not depend on its values, and nothing reads c.
    Recorder zero(context_);
    zero.fill(a.slice, 0);
    zero.fill(b.slice, 0);
    zero.finish();
    zero.run();
  }
  const auto seconds = [](Recorder& rec, uint32_t times) {
    const auto start = std::chrono::steady_clock::now();
    rec.run(times);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  MatmulTiling best = candidates_.front();
  double best_seconds = INFINITY;
  for (const MatmulTiling& tiling : candidates_) {
    Recorder rec(context_);
    matmul(rec, c, a, b, s.trans_a, s.trans_b, nullptr, tiling, s.split ? &partials : nullptr);
    rec.finish();
    const double once = seconds(rec, 1);  // the first replay also warms caches and clocks
    if (once > 4 * best_seconds) continue;  // far behind the best so far: not worth its samples
    const uint32_t times =
        static_cast<uint32_t>(std::clamp(std::ceil(k_sample_seconds / std::max(once, 1e-9)), 1.0, double(k_max_replays)));
    std::vector<double> samples;
    for (int i = 0; i < k_samples; ++i) samples.push_back(seconds(rec, times) / times);
    std::sort(samples.begin(), samples.end());
    const double median = samples[samples.size() / 2];
    // Strictly faster: ties keep the earlier candidate, the derived tiling first.
    if (median < best_seconds) {
      best_seconds = median;
      best = tiling;
    }
  }
  chosen_[s.key()] = best;
  chosen_microseconds_[s.key()] = best_seconds * 1e6;
  return best;
}

void MatmulTuner::read_file() {
  std::error_code exists_error;
  if (!std::filesystem::exists(file_, exists_error)) return;  // the first run on this device: silent
  const auto ignore = [&](const std::string& why) {
    warn(fmt::format("ignoring the matmul tuning file {} ({}); products will be measured again", file_.string(), why));
    chosen_.clear();
    chosen_microseconds_.clear();
  };
  if (std::filesystem::is_directory(file_, exists_error)) return ignore("it is a directory");
  std::string why;
  const std::map<std::string, Entry> entries = read_entries(&why);
  if (!why.empty()) return ignore(why);
  for (const auto& [key, entry] : entries) {
    chosen_[key] = entry.tiling;
    if (entry.microseconds) chosen_microseconds_[key] = *entry.microseconds;
  }
}

std::map<std::string, MatmulTuner::Entry> MatmulTuner::read_entries(std::string* why) const {
  std::map<std::string, Entry> entries;
  const auto fail = [&](const std::string& reason) {
    *why = reason;
    return std::map<std::string, Entry>{};
  };
  std::ifstream in(file_, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in || in.bad()) return fail("it cannot be read");
  const nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return fail("it is not JSON");
  // Compared as JSON values: a field of another type is simply not equal (value() would throw on it).
  const auto field = [&](const char* name) { return doc.contains(name) ? doc[name] : nlohmann::json(); };
  if (field("format") != k_format || field("version") != k_format_version) {
    return fail(fmt::format("it is not a '{}' file of version {}", k_format, k_format_version));
  }
  const DeviceInfo& info = context_.info();
  if (field("device") != info.name || field("driver_version") != info.driver_version ||
      field("subgroup_size") != info.subgroup_size) {
    return fail("it was written for another device, driver or subgroup size");
  }
  const nlohmann::json products = field("products");
  if (!products.is_object()) return fail("it has no 'products' object");
  for (const auto& [key, entry] : products.items()) {
    if (const std::optional<MatmulTiling> tiling = from_json(entry, candidates_)) {
      Entry e{*tiling, std::nullopt};
      if (entry.contains("microseconds") && entry["microseconds"].is_number())
        e.microseconds = entry["microseconds"].get<double>();
      entries[key] = e;
    }
  }
  return entries;
}

void MatmulTuner::write_file() {
  // Another process on this device (ctest -j, two trainings) may have added products since this one read the file:
  // keep them. (Two writers at the same moment can still lose each other's newest entry; it is measured again.)
  std::error_code exists_error;
  if (std::filesystem::is_regular_file(file_, exists_error)) {
    std::string why;
    for (const auto& [key, entry] : read_entries(&why)) {
      if (chosen_.count(key) != 0) continue;
      chosen_[key] = entry.tiling;
      if (entry.microseconds) chosen_microseconds_[key] = *entry.microseconds;
    }
  }
  nlohmann::json products = nlohmann::json::object();
  for (const auto& [key, tiling] : chosen_) {
    nlohmann::json entry = to_json(tiling);
    if (auto t = chosen_microseconds_.find(key); t != chosen_microseconds_.end()) entry["microseconds"] = t->second;
    products[key] = entry;
  }
  const DeviceInfo& info = context_.info();
  const nlohmann::json doc = {{"format", k_format},           {"version", k_format_version},
                              {"device", info.name},          {"driver", info.driver},
                              {"driver_version", info.driver_version}, {"subgroup_size", info.subgroup_size},
                              {"products", products}};
  // Write beside, then rename (as the pipeline cache): a crash never leaves a torn file for the next run.
  std::filesystem::path tmp = file_;
  tmp += fmt::format(".tmp-{}-{}", ::getpid(), static_cast<const void*>(this));
  try {
    std::filesystem::create_directories(file_.parent_path());
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << doc.dump(2) << "\n";
      out.close();
      if (!out) throw std::runtime_error("the write failed");
    }
    std::filesystem::rename(tmp, file_);
  } catch (const std::exception& e) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    warn(fmt::format("could not save the matmul tuning file {} ({}); this run keeps its measurements in memory",
                     file_.string(), e.what()));
  }
}

MatmulTuner& matmul_tuner(Context& context) { return context.extension<MatmulTuner>(); }

}  // namespace vkdrop::ops

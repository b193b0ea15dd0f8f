// The matmul tuner (ops/matmul_tuner.hpp): every candidate tiling gives the same bits, the tuner measures a
// product once and keeps the result in its file, matmul takes what it chose, and a bad file, an unwritable one
// or a bad VKDROP_MATMUL_AUTOTUNE is handled as the header says.
//
// lavapipe is a CPU device, so its own candidates are register blocks; the shared-memory tilings GPUs would time
// run here too, through matmul's explicit-tiling overload (the device runs the shared path; it is just slower).
#include "gpu.hpp"
#include "temp_dir.hpp"

#include <vkdrop/ops/matmul.hpp>
#include <vkdrop/ops/matmul_tuner.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/reference/matmul.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/faults.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using namespace vkdrop;

namespace {

// One product on fixed inputs: (M, N) = op(a) · op(b) + bias, K possibly split, with the given tiling or
// matmul's own choice (nullopt). Returns c.
// With `tiny` != 1: a all +tiny, b all -tiny, bias -0 (every sum -0: the sign of zero must survive every tiling).
std::vector<float> product(Context& ctx, const ops::MatmulShape& s, const std::optional<ops::MatmulTiling>& tiling,
                           std::vector<std::string>* labels = nullptr, float tiny = 1.0f) {
  const int64_t M = s.M, N = s.N, K = s.K;
  Arena arena(ctx, 16 << 20);
  Tensor a = make_tensor(arena, s.trans_a ? Shape{K, M} : Shape{M, K}, DType::f32, "a");
  Tensor b = make_tensor(arena, s.trans_b ? Shape{N, K} : Shape{K, N}, DType::f32, "b");
  Tensor c = make_tensor(arena, {M, N}, DType::f32, "c");
  Tensor bias = make_tensor(arena, {N}, DType::f32, "bias");
  Tensor partials =
      make_tensor(arena, {std::max<int64_t>(1, ops::matmul_partials_elements(M, N, K))}, DType::f32, "partials");
  std::vector<float> av = test::random_floats(size_t(M * K), 21), bv = test::random_floats(size_t(K * N), 22);
  std::vector<float> biasv = test::random_floats(size_t(N), 23);
  if (tiny != 1.0f) {
    // a = +tiny, b = -tiny: every product is -tiny² (underflows to -0), every sum -0; no bias.
    std::fill(av.begin(), av.end(), tiny);
    std::fill(bv.begin(), bv.end(), -tiny);
    std::fill(biasv.begin(), biasv.end(), -0.0f);
  }
  upload(ctx, a, std::span<const float>(av));
  upload(ctx, b, std::span<const float>(bv));
  upload(ctx, bias, std::span<const float>(biasv));
  Recorder rec(ctx);
  rec.fill(c.slice, 0x7fc00000u);  // NaN: an element the kernel misses cannot pass
  const Tensor* scratch = s.split ? &partials : nullptr;
  if (tiling) {
    ops::matmul(rec, c, a, b, s.trans_a, s.trans_b, &bias, *tiling, scratch);
  } else {
    ops::matmul(rec, c, a, b, s.trans_a, s.trans_b, &bias, scratch);
  }
  rec.run();
  if (labels != nullptr) *labels = rec.dispatch_labels();
  return download_f32(ctx, c);
}

// How a product's K was split, as its dispatch labels say ("K split 3 ways"; "" when it was not).
std::string split_of(const std::vector<std::string>& labels) {
  for (const std::string& label : labels) {
    const size_t at = label.find("K split ");
    if (at != std::string::npos) return label.substr(at, label.find(" ways", at) - at);
  }
  return "";
}

bool same_bits(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

// The tilings a GPU with this device's limits would time (matmul_candidates of a GPU-typed copy of its info).
std::vector<ops::MatmulTiling> gpu_candidates(const DeviceInfo& info) {
  DeviceInfo gpu = info;
  gpu.type = VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
  return ops::matmul_candidates(gpu);
}

// What the tuner wrote to std::cerr while `body` ran.
template <class F>
std::string warnings_of(F&& body) {
  std::ostringstream warnings;
  std::streambuf* const cerr = std::cerr.rdbuf(warnings.rdbuf());
  try {
    body();
  } catch (...) {
    std::cerr.rdbuf(cerr);
    throw;
  }
  std::cerr.rdbuf(cerr);
  return warnings.str();
}

// VKDROP_MATMUL_AUTOTUNE set (or unset: nullptr) for one scope.
struct AutotuneVariable {
  explicit AutotuneVariable(const char* value) {
    if (const char* old = std::getenv("VKDROP_MATMUL_AUTOTUNE")) saved = old;
    if (value) {
      setenv("VKDROP_MATMUL_AUTOTUNE", value, 1);
    } else {
      unsetenv("VKDROP_MATMUL_AUTOTUNE");
    }
  }
  ~AutotuneVariable() {
    if (saved) {
      setenv("VKDROP_MATMUL_AUTOTUNE", saved->c_str(), 1);
    } else {
      unsetenv("VKDROP_MATMUL_AUTOTUNE");
    }
  }
  std::optional<std::string> saved;
};

// A small product: the tuner's tests are about its bookkeeping, and small blocks compile fast on lavapipe.
const ops::MatmulShape k_small{12, 20, 40, false, true, false};

}  // namespace

TEST_CASE("every candidate tiling gives the bits of the derived one, on the register and shared-memory paths") {
  Context& ctx = test::context();
  const std::vector<ops::MatmulTiling> own = ops::matmul_candidates(ctx.info());
  REQUIRE(!own.empty());
  CHECK(own.front() == ops::matmul_untuned_tiling(ctx.info()));
  const std::vector<ops::MatmulTiling> shared = gpu_candidates(ctx.info());
  REQUIRE(shared.size() >= 3);  // lavapipe's limits allow the GPU list's large tiles
  CHECK(shared.front() == ops::MatmulTiling{64, 64, 16, 4, 4, true});
  // Ragged edges, every transpose, and a long K that may split into slices. 64 x (64·T) outputs, T the workgroups the
  // device splits a product up to (the cores of a CPU device): 64 x 64 tiles give T workgroups, enough, where larger
  // tiles would give fewer and split, were the split decided by the tile; and K = 24, shorter than one K-slice of
  // 16 (past its end the shared path multiplies by -0, which must leave even a -0 sum alone): products of -1e-30 and
  // 1e-30 underflow, and a fused fma from +0 gives -0. (lavapipe's fma is a multiply and an add, +0 + -0 = +0, so
  // its sums never become -0: this case can fail on GPUs only, where run_on_gpu.sh runs it.)
  const uint32_t target = uint32_t(std::min<uint64_t>(32, ops::split_target_workgroups(ctx.info())));
  const std::vector<ops::MatmulShape> shapes = {{37, 70, 300, false, true, false},
                                                {66, 45, 129, true, false, false},
                                                {64, 64 * target, 1100, true, true, true},
                                                {8, 12, 24, false, false, false}};
  for (const ops::MatmulShape& s : shapes) {
    INFO(s.key());
    const bool underflow = s.K == 24;
    const float scale = underflow ? 1e-30f : 1.0f;
    for (const std::vector<ops::MatmulTiling>* list : {&own, &shared}) {
      std::vector<std::string> first_labels;
      const std::vector<float> first = product(ctx, s, list->front(), &first_labels, scale);
      if (underflow) {
        // Every product underflows: c is the bias, and where the sum is -0 it must stay -0 (the bias is 0 there).
        for (float v : first) CHECK(v == 0.0f);
      } else {
        std::vector<float> want(size_t(s.M) * s.N);
        const auto av = test::random_floats(size_t(s.M) * s.K, 21), bv = test::random_floats(size_t(s.K) * s.N, 22);
        const auto bias = test::random_floats(s.N, 23);
        ref::matmul(want.data(), av.data(), bv.data(), int(s.M), int(s.N), int(s.K), s.trans_a, s.trans_b);
        for (size_t i = 0; i < want.size(); ++i) want[i] += bias[i % s.N];
        test::expect_close(first, want, 1e-5 * std::sqrt(double(s.K)), 1e-5, s.key());
      }
      for (size_t i = 1; i < list->size(); ++i) {
        INFO(ops::matmul_tiling_text((*list)[i]));
        std::vector<std::string> labels;
        CHECK(same_bits(product(ctx, s, (*list)[i], &labels, scale), first));
        CHECK(split_of(labels) == split_of(first_labels));
      }
    }
  }
}

TEST_CASE("the tuner measures a product once and the next context finds it in the file") {
  const auto dir = test::temp_dir("vkdrop-test-matmul-tuner");
  ops::MatmulTiling chosen{};
  std::filesystem::path file;
  {
    Context ctx(ContextOptions{.cache_dir = dir});
    ops::MatmulTuner& tuner = ops::matmul_tuner(ctx);
    CHECK(&tuner == &ops::matmul_tuner(ctx));  // one per context
    tuner.set_enabled(true);
    chosen = tuner.tiling_for(k_small);
    CHECK(tuner.measured() == 1);
    const std::vector<ops::MatmulTiling> candidates = ops::matmul_candidates(ctx.info());
    CHECK(std::find(candidates.begin(), candidates.end(), chosen) != candidates.end());
    CHECK(tuner.tiling_for(k_small) == chosen);
    CHECK(tuner.measured() == 1);  // remembered, not measured again
    ops::MatmulShape split = k_small;
    split.split = true;  // another product for the tuner
    tuner.tiling_for(split);
    CHECK(tuner.measured() == 2);
    file = tuner.file();
    CHECK(file.parent_path() == ctx.pipeline_cache_path().parent_path());
  }
  REQUIRE(std::filesystem::exists(file));
  std::ifstream in(file);
  const nlohmann::json doc = nlohmann::json::parse(in);
  CHECK(doc["format"] == "vkdrop matmul tilings");
  CHECK(doc["device"] == test::context().info().name);
  REQUIRE(doc["products"].contains(k_small.key()));
  CHECK(doc["products"][k_small.key()]["tile_n"] == chosen.tile_n);
  CHECK(doc["products"][k_small.key()]["microseconds"].get<double>() > 0);
  {
    Context ctx(ContextOptions{.cache_dir = dir});
    ops::MatmulTuner& tuner = ops::matmul_tuner(ctx);
    tuner.set_enabled(true);
    CHECK(tuner.tiling_for(k_small) == chosen);
    CHECK(tuner.measured() == 0);
  }
}

TEST_CASE("matmul takes the tuner's tiling when the tuner is on, and the bits do not change") {
  const auto dir = test::temp_dir("vkdrop-test-matmul-tuner-use");
  Context ctx(ContextOptions{.cache_dir = dir});
  const std::vector<ops::MatmulTiling> candidates = ops::matmul_candidates(ctx.info());
  REQUIRE(candidates.size() >= 2);
  // A file that names the second candidate (not the derived one) for a product the tests never measured.
  const ops::MatmulShape s{40, 52, 70, true, false, false};
  const ops::MatmulTiling second = candidates[1];
  const nlohmann::json doc = {
      {"format", "vkdrop matmul tilings"},
      {"version", 1},
      {"device", ctx.info().name},
      {"driver_version", ctx.info().driver_version},
      {"subgroup_size", ctx.info().subgroup_size},
      {"products",
       {{s.key(),
         {{"tile_m", second.tile_m}, {"tile_n", second.tile_n}, {"tile_k", second.tile_k}, {"thread_m", second.thread_m},
          {"thread_n", second.thread_n}, {"shared_memory", second.shared}, {"load_x", second.load_x},
          {"u64_stores", second.u64_stores}}}}}};
  ops::MatmulTuner& tuner = ops::matmul_tuner(ctx);
  std::filesystem::create_directories(tuner.file().parent_path());
  std::ofstream(tuner.file()) << doc.dump();
  const std::vector<float> derived = product(ctx, s, candidates.front());
  tuner.set_enabled(false);
  CHECK(same_bits(product(ctx, s, std::nullopt), derived));
  CHECK(tuner.measured() == 0);  // off: never asked
  std::vector<std::string> labels;
  product(ctx, s, std::nullopt, &labels);
  CHECK_THAT(labels.at(0), !Catch::Matchers::Contains("blocks up to") && !Catch::Matchers::Contains("tiles"));
  tuner.set_enabled(true);
  CHECK(tuner.tiling_for(s) == second);  // from the file
  CHECK(same_bits(product(ctx, s, std::nullopt, &labels), derived));
  // The dispatch names the tiling it ran, when it is not the derived one: the file's.
  const std::string named = second.shared ? fmt::format(", tiles {}x{}x{} of {}x{}", second.tile_m, second.tile_n,
                                                        second.tile_k, second.thread_m, second.thread_n)
                                          : fmt::format(", blocks up to {}x{}", second.thread_m, second.thread_n);
  CHECK_THAT(labels.at(0), Catch::Matchers::Contains(named));
  CHECK(tuner.measured() == 0);
  // A product the file does not name: matmul asks the tuner, which measures it.
  ops::MatmulShape other = s;
  other.M = 24;
  product(ctx, other, std::nullopt);
  CHECK(tuner.measured() == 1);
}

TEST_CASE("a tuning file that is not JSON or is another device's is a warning, and the product is measured again") {
  const auto dir = test::temp_dir("vkdrop-test-matmul-tuner-bad");
  std::filesystem::path file;
  {
    Context ctx(ContextOptions{.cache_dir = dir});
    file = ops::matmul_tuner(ctx).file();
  }
  std::filesystem::create_directories(file.parent_path());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"format\": \"vkdrop matmul til", "it is not JSON"},
      {"[1, 2, 3]", "it is not JSON"},
      {"{\"format\": \"something else\", \"version\": 1}", "it is not a 'vkdrop matmul tilings' file of version 1"},
      {"{\"format\": 1, \"version\": \"1\"}", "it is not a 'vkdrop matmul tilings' file of version 1"},
      {"{\"format\": \"vkdrop matmul tilings\", \"version\": 1, \"device\": \"Another GPU\", \"driver_version\": 1, "
       "\"products\": {}}",
       "it was written for another device, driver or subgroup size"},
      {"{\"format\": \"vkdrop matmul tilings\", \"version\": 1, \"device\": null, \"driver_version\": \"x\"}",
       "it was written for another device, driver or subgroup size"}};
  for (const auto& [text, why] : cases) {
    INFO(text);
    std::ofstream(file, std::ios::trunc) << text;
    Context ctx(ContextOptions{.cache_dir = dir});
    ops::MatmulTuner& tuner = ops::matmul_tuner(ctx);
    tuner.set_enabled(true);
    const std::string warnings = warnings_of([&] { tuner.tiling_for(k_small); });
    CHECK_THAT(warnings, Catch::Matchers::Contains("warning: ignoring the matmul tuning file " + file.string() + " (" +
                                                   why + ")"));
    CHECK(tuner.measured() == 1);
    // Written anew, valid.
    std::ifstream in(file);
    CHECK(nlohmann::json::parse(in)["products"].contains(k_small.key()));
  }
  // An entry whose tiling is not a candidate (a hand edit, another version's list) is measured again, silently.
  {
    std::ifstream in(file);
    nlohmann::json doc = nlohmann::json::parse(in);
    doc["products"][k_small.key()]["tile_m"] = 7;
    std::ofstream(file, std::ios::trunc) << doc.dump();
  }
  Context ctx(ContextOptions{.cache_dir = dir});
  ops::MatmulTuner& tuner = ops::matmul_tuner(ctx);
  tuner.set_enabled(true);
  CHECK(warnings_of([&] { tuner.tiling_for(k_small); }).empty());
  CHECK(tuner.measured() == 1);
}

TEST_CASE("two tuners on one file keep each other's products") {
  // As two processes on one device (ctest -j, two trainings): each writes the file from what it measured, after
  // taking in what the other wrote since.
  const auto dir = test::temp_dir("vkdrop-test-matmul-tuner-merge");
  Context first(ContextOptions{.cache_dir = dir});
  Context second(ContextOptions{.cache_dir = dir});
  ops::MatmulTuner& a = ops::matmul_tuner(first);
  ops::MatmulTuner& b = ops::matmul_tuner(second);
  a.set_enabled(true);
  b.set_enabled(true);
  ops::MatmulShape x = k_small, y = k_small, z = k_small;
  y.M = 16;
  z.M = 20;
  a.tiling_for(x);  // a has read the file (none) and written x
  b.tiling_for(y);  // b reads x, writes x and y
  a.tiling_for(z);  // a writes z: it must keep y
  std::ifstream in(a.file());
  const nlohmann::json doc = nlohmann::json::parse(in);
  CHECK(doc["products"].contains(x.key()));
  CHECK(doc["products"].contains(y.key()));
  CHECK(doc["products"].contains(z.key()));
}

TEST_CASE("an unwritable tuning file is a warning, and the run keeps its measurement") {
  const auto parent = test::temp_dir("vkdrop-test-matmul-tuner-unwritable");
  const auto file = parent / "not-a-directory";
  { std::ofstream(file) << "x"; }
  // A cache directory below a regular file can never be created.
  Context ctx(ContextOptions{.cache_dir = file / "sub"});
  ops::MatmulTuner& tuner = ops::matmul_tuner(ctx);
  tuner.set_enabled(true);
  ops::MatmulTiling chosen{};
  const std::string warnings = warnings_of([&] { chosen = tuner.tiling_for(k_small); });
  CHECK_THAT(warnings, Catch::Matchers::Contains("warning: could not save the matmul tuning file"));
  CHECK(tuner.tiling_for(k_small) == chosen);
  CHECK(tuner.measured() == 1);
}

TEST_CASE("a device without memory for the measurement is a warning, and the product takes the derived tiling") {
  const auto dir = test::temp_dir("vkdrop-test-matmul-tuner-memory");
  Context ctx(ContextOptions{.cache_dir = dir});
  ops::MatmulTuner& tuner = ops::matmul_tuner(ctx);
  tuner.set_enabled(true);
  ops::MatmulTiling chosen{};
  arm_fault(FaultPoint::allocate, 1);  // the tuner's scratch arena
  const std::string warnings = warnings_of([&] { chosen = tuner.tiling_for(k_small); });
  disarm_faults();
  CHECK_THAT(warnings, Catch::Matchers::Contains("warning: could not measure matmul tilings for " + k_small.key()));
  CHECK(chosen == ops::matmul_untuned_tiling(ctx.info()));
  CHECK(tuner.measured() == 0);
  CHECK(!std::filesystem::exists(tuner.file()));  // nothing measured, nothing written
  CHECK(tuner.tiling_for(k_small) == chosen);      // remembered for this run
  // A later measurement writes the file, without the product it could not measure (the next run measures it).
  ops::MatmulShape measured = k_small;
  measured.M = 16;
  tuner.tiling_for(measured);
  CHECK(tuner.measured() == 1);
  {
    std::ifstream in(tuner.file());
    const nlohmann::json doc = nlohmann::json::parse(in);
    CHECK(doc["products"].contains(measured.key()));
    CHECK(!doc["products"].contains(k_small.key()));
  }
  // A lost device is not hidden.
  ops::MatmulShape other = k_small;
  other.N = 28;
  arm_fault(FaultPoint::submit, 1);
  CHECK_THROWS_AS(tuner.tiling_for(other), VulkanError);
  disarm_faults();
}

TEST_CASE("VKDROP_MATMUL_AUTOTUNE turns the tuner on or off, GPUs only when unset, and refuses other values") {
  const auto dir = test::temp_dir("vkdrop-test-matmul-tuner-env");
  {
    AutotuneVariable unset(nullptr);
    Context ctx(ContextOptions{.cache_dir = dir});
    CHECK(ops::matmul_tuner(ctx).enabled() == !ctx.info().is_cpu());
  }
  {
    AutotuneVariable on("1");
    Context ctx(ContextOptions{.cache_dir = dir});
    CHECK(ops::matmul_tuner(ctx).enabled());
  }
  {
    AutotuneVariable off("0");
    Context ctx(ContextOptions{.cache_dir = dir});
    CHECK(!ops::matmul_tuner(ctx).enabled());
  }
  {
    AutotuneVariable bad("yes");
    Context ctx(ContextOptions{.cache_dir = dir});
    CHECK_THROWS_AS(ops::matmul_tuner(ctx), ArgumentError);
    CHECK_THROWS_WITH(ops::matmul_tuner(ctx), Catch::Matchers::Contains("VKDROP_MATMUL_AUTOTUNE is 'yes'"));
  }
  ops::MatmulShape empty = k_small;
  empty.K = 0;
  CHECK_THROWS_AS(ops::matmul_tuner(test::context()).tiling_for(empty), ArgumentError);
}

#pragma once
// What every benchmark needs to face its peer fairly and to cover lavapipe's vector widths:
//  - best_openblas_kernels(): the OpenBLAS kernels this CPU's flags allow (OpenBLAS 0.3.21 mis-detects some
//    VMs as `Prescott` and runs SSE3 kernels on AVX-512 CPUs);
//  - rerun_at_each_lane_width(): lavapipe fixes its SIMD width (LP_NATIVE_VECTOR_WIDTH: 128, 256 or 512 bits,
//    subgroups of 4, 8 or 16 lanes) when it loads, so a benchmark runs itself once per width, each run
//    under a heading that names it;
//  - python_peer(): runs one of the PyTorch peers (bench/torch_*.py) and returns the JSON line it prints;
//  - timed_per_lane_width(): the start of a benchmark timed by GPU timestamps;
//  - median(), random_floats(): what every benchmark computes and feeds its kernels.
// Header-only: each bench_*.cpp is its own executable.

#include <vkdrop/runtime/context.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

extern char** environ;

namespace vkdrop::bench {

// The best OpenBLAS kernels this CPU runs, by its flags ("" when neither AVX2 nor AVX-512 is there).
inline std::string best_openblas_kernels() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    if (line.find(" avx512f") != std::string::npos) return "SkylakeX";
    if (line.find(" avx2") != std::string::npos) return "Haswell";
    return "";
  }
  return "";
}

// Runs `argv` again with `env` added to this process's environment; its exit status (127 if it could not
// start, 128 + N if signal N ended it).
inline int run_with_env(char** argv, const std::vector<std::string>& env) {
  std::vector<std::string> strings(env);
  for (char** e = environ; *e != nullptr; ++e) strings.emplace_back(*e);
  std::vector<char*> envp;
  for (std::string& s : strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, envp.data()) != 0) return 127;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return 127;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// lavapipe's vector widths, each with its subgroup size.
struct LaneWidth {
  int bits;
  int lanes;
};
inline constexpr LaneWidth k_lane_widths[] = {{128, 4}, {256, 8}, {512, 16}};

// Whether this process should run itself once per lane width: on lavapipe (other drivers ignore the
// variable) when the user has not chosen a width.
inline bool per_lane_width(bool lavapipe) { return lavapipe && std::getenv("LP_NATIVE_VECTOR_WIDTH") == nullptr; }

// Runs this benchmark again with `env` added: once per lane width when per_lane_width(lavapipe), each under
// a heading that names it, else once. Returns the worst exit status.
inline int rerun(char** argv, bool lavapipe, const std::vector<std::string>& env = {}) {
  if (!per_lane_width(lavapipe)) return run_with_env(argv, env);
  int worst = 0;
  for (const LaneWidth& w : k_lane_widths) {
    fmt::print("\n## {} lanes (LP_NATIVE_VECTOR_WIDTH={})\n\n", w.lanes, w.bits);
    std::fflush(stdout);
    std::vector<std::string> with_width(env);
    with_width.push_back(fmt::format("LP_NATIVE_VECTOR_WIDTH={}", w.bits));
    const int status = run_with_env(argv, with_width);
    if (status != 0) fmt::print("(exit status {})\n", status);
    worst = std::max(worst, status);
  }
  return worst;
}

// When the user has not chosen a width, runs this benchmark once per width and returns the worst exit
// status; otherwise returns -1 and the caller runs normally.
inline int rerun_at_each_lane_width(char** argv, bool lavapipe) {
  return per_lane_width(lavapipe) ? rerun(argv, lavapipe) : -1;
}

inline bool is_lavapipe(const std::string& driver) { return driver.find("llvmpipe") != std::string::npos; }

// The Python that runs the PyTorch peers: $VKDROP_PYTHON, else Debian's /usr/bin/python3, which
// python3-torch installs into (another python3 first on PATH may lack torch).
inline std::string peer_python() {
  const char* python = std::getenv("VKDROP_PYTHON");
  return python != nullptr && *python != '\0' ? python : "/usr/bin/python3";
}

// Runs `env python3 bench/SCRIPT ARGS` (env: "NAME=value " prefixes or empty) and returns the last JSON
// object it printed; nullopt, with its first line of output and `hint` printed, when there is none.
inline std::optional<nlohmann::json> python_peer(const std::string& env, const std::string& script,
                                                 const std::string& args, const std::string& hint) {
  const std::string cmd =
      fmt::format("{}'{}' '{}/bench/{}' {} 2>&1", env, peer_python(), VKDROP_SOURCE_DIR, script, args);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  std::string out;
  if (pipe) {
    char buf[4096];
    while (std::fgets(buf, sizeof buf, pipe.get()) != nullptr) out += buf;
  }
  if (const auto brace = out.rfind('{'); brace != std::string::npos) {
    try {
      return nlohmann::json::parse(out.substr(brace));
    } catch (const std::exception&) {
    }
  }
  fmt::print("PyTorch peer unavailable ({}); {}\n", out.empty() ? "no output" : out.substr(0, out.find('\n')), hint);
  return std::nullopt;
}

// The median of v (the upper one of an even count); 0 for none.
inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// n floats uniform in [-1, 1), the same for the same seed.
inline std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// For a benchmark timed by GPU timestamps: on lavapipe without a width set, runs itself at each width and
// returns that exit status; on a device without timestamps, says so and returns 1; otherwise nullopt: go on.
inline std::optional<int> timed_per_lane_width(char** argv, const Context& ctx) {
  const int per_width = rerun_at_each_lane_width(argv, is_lavapipe(ctx.info().driver));
  if (per_width >= 0) return per_width;
  if (!ctx.timestamps_supported()) {
    fmt::print(stderr, "{} has no timestamps on its compute queue\n", ctx.info().name);
    return 1;
  }
  return std::nullopt;
}

}  // namespace vkdrop::bench

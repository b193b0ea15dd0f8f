#include <vkdrop/ops/matmul.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/elementwise.hpp>
#include <vkdrop/ops/matmul_tuner.hpp>
#include <vkdrop/ops/split_sum.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/reference/dropout_mask.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/kernel.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <thread>
#include <vector>

namespace vkdrop::ops {
namespace {

// Push constants of matmul.comp; keep in step with its Params block.
struct MatmulParams {
  uint32_t R, Q, K;
  uint32_t ldx, ldy;
  uint32_t zr, zq;
  uint32_t bias_mode;  // 0: none, 1: bias[q], 2: bias[r]
  uint32_t k_chunk;    // k-steps per workgroup z (K: not split)
  uint32_t z_slice;    // floats between the partial products of consecutive z
  uint32_t c_offset;   // C's flat index of Z's first element
  uint32_t seed_lo, seed_hi, layer, threshold;  // the epilogue's dropout mask
  float scale;                                  // the epilogue's factor
};

// matmul.glsl's EPILOGUE modes.
enum EpilogueMode : uint32_t { epilogue_none, epilogue_relu, epilogue_relu_dropout, epilogue_relu_scale, epilogue_gate };

// An epilogue as the shader takes it, validated against c.
struct EpilogueSetup {
  EpilogueMode mode = epilogue_none;
  uint32_t seed_lo = 0, seed_hi = 0, layer = 0, threshold = 0;
  float scale = 1;
  std::string label;  // appended to the dispatch's
};

EpilogueSetup setup_epilogue(const MatmulEpilogue& e, const Tensor& c) {
  using Kind = MatmulEpilogue::Kind;
  EpilogueSetup s;
  if (e.kind == Kind::None) {
    if (e.dropout || e.step != nullptr || e.gate != nullptr)
      throw ArgumentError("matmul: an epilogue of kind None takes no dropout, step or gate");
    return s;
  }
  if (e.dropout) {
    try {
      s.threshold = ref::keep_threshold(e.dropout->p);
      // Rounded to float once on the host, as ops::dropout_forward does.
      // A gate scales as the dropout's backward does: by the training scale, whatever `training` says.
      const bool training = e.training || e.kind == Kind::ReLUBackward;
      s.scale = static_cast<float>(ref::dropout_scale(e.dropout->p, e.dropout->scaling, training));
    } catch (const ArgumentError& err) {
      throw ArgumentError(fmt::format("matmul: the epilogue's dropout: {}", err.what()));
    }
    s.seed_lo = static_cast<uint32_t>(e.dropout->seed);
    s.seed_hi = static_cast<uint32_t>(e.dropout->seed >> 32);
    s.layer = e.dropout->layer;
  }
  // The mask and the gate go by C's flat element index, a uint in the shader.
  to_u32(c.numel(), "matmul: the elements of c with an epilogue");
  if (e.kind == Kind::ReLUBackward) {
    if (e.gate == nullptr) throw ArgumentError("matmul: a ReLU-backward epilogue needs the gate (the forward's output)");
    if (e.step != nullptr) throw ArgumentError("matmul: a ReLU-backward epilogue takes no step (it draws no mask)");
    check_tensor("matmul", {"gate", *e.gate}, c.shape, DType::f32, fmt::format("shaped as c ({})", shape_text(c.shape)));
    check_disjoint("matmul", {{"c", c}, {"gate", *e.gate}});
    s.mode = epilogue_gate;
    s.label = e.dropout ? ", through relu + dropout backward" : ", through relu backward";
    return s;
  }
  if (e.gate != nullptr) throw ArgumentError("matmul: a ReLU epilogue takes no gate (that is ReLUBackward's)");
  if (!e.dropout) {
    s.mode = epilogue_relu;
    s.label = " + relu";
    return s;
  }
  if (e.step == nullptr) throw ArgumentError("matmul: a dropout epilogue needs the step counter (step)");
  check_counter("matmul", {"step", *e.step});
  if (e.training) {
    s.mode = epilogue_relu_dropout;
    s.label = " + relu + dropout";
  } else if (e.dropout->scaling == DropoutScaling::Vanilla) {
    s.mode = epilogue_relu_scale;
    s.label = " + relu + dropout (eval)";
  } else {
    s.mode = epilogue_relu;  // eval with inverted scaling: the dropout is the identity
    s.label = " + relu";
  }
  return s;
}

// The epilogue as its own pass over c, in place (K split: the slices are summed first).
void record_epilogue_pass(Recorder& rec, const Tensor& c, const MatmulEpilogue& e, const EpilogueSetup& s) {
  switch (s.mode) {
    case epilogue_none: return;
    case epilogue_relu: return relu_forward(rec, c, c);
    case epilogue_relu_dropout:
    case epilogue_relu_scale: return relu_dropout_forward(rec, c, c, *e.dropout, e.training, *e.step);
    case epilogue_gate:
      return relu_backward(rec, c, c, *e.gate, s.scale, e.dropout ? "relu + dropout backward" : "relu backward");
  }
}

// k-steps of a slice are a multiple of this: a whole staged chunk of either path (the register path stages
// 4 x lanes, at most 128 for 32 lanes; the shared path TILE_K), and quads stay 16-byte aligned.
constexpr uint32_t k_split_granule = 128;

// The register path splits K as it would with 8 lanes and 64 x 8 blocks, at every subgroup size and block
// (see matmul()).
constexpr uint32_t k_split_basis_lanes = 8;
constexpr MatmulTiling k_split_basis_tiling{64, k_split_basis_lanes * 8, 4 * k_split_basis_lanes, 64, 8, false, false};

// The product as the shader sees it: Z (R, Q) = X (R, K) · Y (K, Q), where Z is C or Cᵀ.
struct Oriented {
  bool transposed;         // Z = Cᵀ: X = op(B)ᵀ, Y = op(A)ᵀ
  uint32_t R, Q;
  bool x_k, y_k;           // X, Y stored k-contiguous
  uint32_t ldx, ldy;       // their row strides as stored
  const Tensor* x;
  const Tensor* y;
};

Oriented orient(bool transposed, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, uint32_t M,
                uint32_t N, uint32_t K) {
  // a is stored (M, K), or (K, M) when trans_a; b is (K, N), or (N, K) when trans_b.
  const uint32_t lda = trans_a ? M : K, ldb = trans_b ? K : N;
  if (!transposed) return {false, M, N, !trans_a, trans_b, lda, ldb, &a, &b};
  // Cᵀ = op(B)ᵀ·op(A)ᵀ: op(B)ᵀ(n, k) = op(B)(k, n) is k-contiguous when b is stored (N, K), and
  // op(A)ᵀ(k, m) = op(A)(m, k) is k-contiguous when a is stored (M, K).
  return {true, N, M, trans_b, !trans_a, ldb, lda, &b, &a};
}

uint32_t ceil_div(uint32_t n, uint32_t d) { return (n + d - 1) / d; }

// vec4 loads need every quad of X and Y 16-byte aligned: row strides multiples of 4 (for an r- or
// q-contiguous operand that is R or Q, so its quads never straddle the edge).
bool vec4_loads(const Oriented& o) { return o.ldx % 4 == 0 && o.ldy % 4 == 0; }

// A multiple of 4, at least 4, at most n (rounded down).
uint32_t quad_multiple(uint32_t n) { return std::max(4u, n / 4 * 4); }

struct RegisterChoice {
  Oriented o;
  uint32_t tm, tn;
};

// The model's cost of one tm x tn block per 8 k-steps (see choose_registers). With load_x (matmul_load.comp) every
// lane loads X itself, 2·tm vec4 loads per 8 k-steps instead of tm/4 staged ones: what makes a strip of narrow blocks
// (column_strip) cost more than its share of the product. choose_registers' sweep was measured with the staged count
// and keeps it.
double register_block_cost(bool vec4, bool load_x, uint32_t tm, uint32_t tn) {
  const double x_loads = load_x ? 2.0 * tm : tm / 4.0;
  const double loads = vec4 ? 300.0 * (x_loads + 2.0 * tn) : 170.0 * (tm + 8.0 * tn);
  return loads + 21.0 * tm * tn + 8.0 * tm;
}

// The register path's block for this product: the tiling's, a quarter of its rows, or 8 x 4 for thin products (an
// eighth of 64 x 8; beside 32 x 16 at 16 lanes, 4 columns a lane leave fewer lanes idle). Few sizes, because each is a
// pipeline that LLVM compiles for up to 2 s; either orientation. Per 8 k-steps a tm x tn block costs about 300
// instructions per vec4 load (lavapipe's per-lane load loop; some 170 per scalar load) for tm/4 loads of X (tm with
// scalar loads) and 2*tn of Y (8*tn), 21 per accumulator update and 8 shuffles per row; workgroups run in waves over
// the cores. Ties keep the earlier candidate: the larger block, C before Cᵀ. The load costs were measured when X and Y
// were storage buffers; since they are texel buffers (one gather) loads cost far less, but a sweep of the blocks at 8
// lanes (bench_gemm --block 32x8, 64x4, 16x16, 32x16) found none faster than these choices beyond the noise, so the
// model stands until it is remeasured.
RegisterChoice choose_registers(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, uint32_t M,
                                uint32_t N, uint32_t K, const MatmulTiling& tiling, uint32_t lanes) {
  const uint32_t cores = std::max(1u, std::thread::hardware_concurrency());
  RegisterChoice best{};
  double best_cost = -1;
  for (bool transposed : {false, true}) {
    const Oriented o = orient(transposed, a, b, trans_a, trans_b, M, N, K);
    const bool vec4 = vec4_loads(o);
    std::vector<std::array<uint32_t, 2>> blocks = {{tiling.thread_m, tiling.thread_n},
                                                   {quad_multiple(tiling.thread_m / 4), tiling.thread_n},
                                                   {std::min(8u, tiling.thread_m), 4}};
    // Columns that a tile of the tiling's width leaves ragged but one up to half again as wide covers: that block
    // too, so that the last tile is not mostly padding (the sample CNN's 64x288x25088 weight gradient at 16 lanes:
    // 288 columns are one tile of 16 x 20, against a tile of 256 and one of 32 in 256 with 32 x 16 blocks).
    const uint32_t wide = (ceil_div(o.Q, lanes) + 3) / 4 * 4;
    if (wide > tiling.thread_n && 2 * wide <= 3 * tiling.thread_n) blocks.push_back({tiling.thread_m, wide});
    for (auto [tm, tn] : blocks) {
      // Scalar loads (rows not 16-byte aligned) make the largest block's pipeline twice as slow to compile
      // (4 s); such shapes are rare enough to do without it.
      if (!vec4 && tm == tiling.thread_m && tn == tiling.thread_n && tm * tn > 128) continue;
      const double tiles = double(ceil_div(o.R, tm)) * ceil_div(o.Q, lanes * tn);
      const double cost = std::ceil(tiles / cores) * register_block_cost(vec4, false, tm, tn);
      if (best_cost < 0 || cost < best_cost) {
        best = {o, tm, tn};
        best_cost = cost;
      }
    }
  }
  return best;
}

// Where a ragged last column of tiles goes to blocks of tm x 4 instead: Z's columns from the returned one on are a
// second dispatch's, whose tiles are lanes x 4 columns wide; 0 keeps one dispatch. Decided after choose_registers,
// by the model, and only where it is cheaper: the block (and so where K is split) stays choose_registers'.
// The sample CNN's 64x288x25088 weight gradient at 16 lanes and 32 x 16 blocks: 288 columns are a tile of 256 and
// one of which 32 are used, so 44 % of the product was padding; with the strip, the last 32 columns are a tile of
// 32 x 64. Both dispatches sum each element in the same order as one would: the same bits. The strip's Y, Z and
// bias are bound from its first column on, so its offsets must suit the device's binding alignment.
uint32_t column_strip(const RegisterChoice& choice, const DeviceInfo& device, uint32_t lanes, bool load_x, uint32_t K) {
  const Oriented& o = choice.o;
  const uint32_t tile_q = lanes * choice.tn, strip_tile_q = lanes * 4;
  const uint32_t ragged = o.Q % tile_q, first = o.Q - ragged;
  // A second dispatch costs tens of microseconds on lavapipe: not for padding of fewer than 4 M multiply-adds
  // (about 0.1 ms there).
  if (double(o.R) * (tile_q - ragged) * K < double(1 << 22)) return 0;
  // Only where lanes load X themselves: there a block's X loads do not shrink with its columns, and the strip won
  // (64x288x25088 at 16 lanes, bench_conv, two alternating pairs: 28.1-28.5 ms -> 14.9-15.4 + 8.1-8.7). With X
  // staged and shared by shuffles (8 lanes, 64 x 8 blocks) the same split lost: 25.2-25.8 -> 23.8-24.7 + 5.9-7.5.
  if (!load_x || choice.tn <= 4 || ragged == 0 || first == 0) return 0;
  // The strip's first column: in Y (k-contiguous: a row of ldy floats a column), in Z (a column is zq = R floats
  // of Cᵀ, or 1 of C) and in the bias (bias[q], Z = C).
  const uint64_t align = std::max<uint64_t>(1, device.binding_offset_alignment());
  const uint64_t y_offset = uint64_t(first) * (o.y_k ? o.ldy : 1u) * sizeof(float);
  const uint64_t z_offset = uint64_t(first) * (o.transposed ? o.R : 1u) * sizeof(float);
  if (y_offset % align != 0 || z_offset % align != 0 || uint64_t(first) * sizeof(float) % align != 0) return 0;
  const uint32_t cores = std::max(1u, std::thread::hardware_concurrency());
  const auto waves = [&](double tiles) { return std::ceil(tiles / cores); };
  const bool vec4 = vec4_loads(o);
  const double rows = ceil_div(o.R, choice.tm), block = register_block_cost(vec4, load_x, choice.tm, choice.tn);
  const double one = waves(rows * ceil_div(o.Q, tile_q)) * block;
  const double two = waves(rows * (first / tile_q)) * block +
                     waves(rows * ceil_div(ragged, strip_tile_q)) * register_block_cost(vec4, load_x, choice.tm, 4);
  return two < one ? first : 0;
}

// The register path needs subgroup shuffles in compute shaders (unless every lane loads its own X) and one
// subgroup of at least 4 lanes per workgroup, a multiple of 4 (each lane stages X in quads, and the
// product moves 8 k-steps at a time).
bool register_path_runs(const DeviceInfo& device, uint32_t lanes, bool load_x) {
  const bool sharing = load_x || device.subgroup_shuffle;
  return sharing && device.subgroup_size == lanes && lanes >= 4 && lanes % 4 == 0;
}

// How many slices this device splits K into, given the workgroups the product already has: up to
// split_target_workgroups (ops/tuning), within matmul_max_split. 1: not split.
uint32_t device_split(const DeviceInfo& device, uint64_t workgroups, int64_t M, int64_t N, int64_t K) {
  const uint32_t most = matmul_max_split(M, N, K);
  if (most < 2) return 1;
  const uint64_t wanted = split_target_workgroups(device);
  if (workgroups >= wanted) return 1;
  return static_cast<uint32_t>(std::min<uint64_t>(most, (wanted + workgroups - 1) / workgroups));
}

std::string shape_of(const Tensor& t) { return fmt::format("{} {}", t.name, shape_text(t.shape)); }

void check_f32_matrix(Arg arg) {
  check_dtype("matmul", arg, DType::f32);
  check_rank("matmul", arg, {2}, "a matrix");
}

std::string tiling_problem(const MatmulTiling& t, const DeviceInfo& device) {
  if (t.thread_m == 0 || t.thread_n == 0 || t.tile_m == 0 || t.tile_n == 0 || t.tile_k == 0) return "a size is 0";
  if (t.tile_m % t.thread_m != 0 || t.tile_n % t.thread_n != 0) return "tiles are not whole register blocks";
  const uint64_t threads = uint64_t(t.tile_m / t.thread_m) * (t.tile_n / t.thread_n);
  if (threads > device.max_workgroup_invocations || threads > device.max_workgroup_size[0])
    return fmt::format("{} invocations per workgroup", threads);
  if (t.shared) {
    const uint64_t bytes = uint64_t(t.tile_k) * (t.tile_m + t.tile_n) * sizeof(float);
    if (bytes > device.max_shared_memory_bytes) return fmt::format("{} bytes of shared memory", bytes);
    if (t.prefetch && (uint64_t(t.tile_k) * t.tile_m % threads != 0 || uint64_t(t.tile_k) * t.tile_n % threads != 0))
      return "prefetching needs each K-slice of X and of Y to split evenly over the invocations";
  } else if (t.tile_m != t.thread_m) {
    return "the register path has one row of lanes (tile_m = thread_m)";
  } else if (t.thread_m % 4 != 0 || t.thread_n % 4 != 0) {
    return "the register path moves rows and columns in quads (thread_m, thread_n multiples of 4)";
  }
  if (t.u64_stores && (t.shared || !device.shader_int64))
    return "64-bit stores need the register path and a device with shaderInt64";
  if (t.prefetch && !t.shared) return "prefetching is for the shared-memory path";
  return "";
}

void check_tiling(const MatmulTiling& t, const DeviceInfo& device) {
  if (const std::string why = tiling_problem(t, device); !why.empty()) {
    throw ArgumentError(fmt::format("matmul: tiling {} cannot run on {}: {}", matmul_tiling_text(t), device.name, why));
  }
}

}  // namespace

std::string matmul_tiling_text(const MatmulTiling& t) {
  if (t.shared) {
    return fmt::format("shared-memory tiles {}x{}, K-slice {}, {}x{} per invocation, {} invocations{}", t.tile_m,
                       t.tile_n, t.tile_k, t.thread_m, t.thread_n, (t.tile_m / t.thread_m) * (t.tile_n / t.thread_n),
                       t.prefetch ? ", the next slice prefetched" : "");
  }
  return fmt::format("register blocks up to {}x{} per lane, {} lanes per workgroup, {}, no shared memory{}", t.thread_m,
                     t.thread_n, t.tile_n / std::max(1u, t.thread_n),
                     t.load_x ? "every lane loading the values of A or B it needs"
                              : fmt::format("{} k-steps staged and shared by subgroup shuffles", t.tile_k),
                     t.u64_stores ? ", quads of C stored as 64-bit words" : "");
}

std::string matmul_tiling_problem(const MatmulTiling& t, const DeviceInfo& device) {
  if (std::string why = tiling_problem(t, device); !why.empty()) return why;
  const uint32_t lanes = t.tile_n / t.thread_n;
  if (!t.shared && !register_path_runs(device, lanes, t.load_x)) {
    return fmt::format("the register path needs {}subgroups of exactly {} lanes (a multiple of 4); the device has {}",
                       t.load_x ? "" : "subgroup shuffles and ", lanes, device.subgroup_size);
  }
  return "";
}

MatmulTiling matmul_untuned_tiling(const DeviceInfo& device) {
  const MatmulTiling tiling = matmul_tiling(device);
  if (!tiling.shared && !register_path_runs(device, tiling.tile_n / tiling.thread_n, tiling.load_x))
    return shared_memory_matmul_tiling();
  return tiling;
}

uint32_t matmul_max_split(int64_t M, int64_t N, int64_t K) {
  const int64_t outputs = std::max<int64_t>(1, M * N);
  const int64_t by_k = K / 256, by_size = ((int64_t{1} << 19) + outputs - 1) / outputs;
  const int64_t slices = std::min<int64_t>({64, by_k, by_size});
  return slices >= 2 ? static_cast<uint32_t>(slices) : 1;
}

int64_t matmul_partials_elements(int64_t M, int64_t N, int64_t K) {
  const uint32_t slices = matmul_max_split(M, N, K);
  return slices < 2 ? 0 : static_cast<int64_t>(slices * split_slice_stride(M * N));
}

void matmul(Recorder& rec, const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
            const Tensor* bias, const Tensor* partials, const MatmulEpilogue& epilogue) {
  MatmulTiling tiling = matmul_untuned_tiling(rec.context().info());
  // The tuner measures only well-formed products; anything else goes on to the checks below.
  MatmulTuner& tuner = matmul_tuner(rec.context());
  if (tuner.enabled() && a.shape.size() == 2 && b.shape.size() == 2) {
    const int64_t M = trans_a ? a.dim(1) : a.dim(0), K = trans_a ? a.dim(0) : a.dim(1);
    const int64_t N = trans_b ? b.dim(0) : b.dim(1), Kb = trans_b ? b.dim(1) : b.dim(0);
    const auto fits = [](int64_t v) { return v >= 1 && v <= int64_t{UINT32_MAX}; };
    if (K == Kb && fits(M) && fits(N) && fits(K) && c.shape == Shape{M, N} && a.dtype == DType::f32 &&
        b.dtype == DType::f32) {
      tiling = tuner.tiling_for({uint32_t(M), uint32_t(N), uint32_t(K), trans_a, trans_b, partials != nullptr});
    }
  }
  matmul(rec, c, a, b, trans_a, trans_b, bias, tiling, partials, epilogue);
}

void matmul(Recorder& rec, const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
            const Tensor* bias, const MatmulTiling& tiling, const Tensor* partials,
            const MatmulEpilogue& epilogue) {
  check_f32_matrix({"c", c});
  check_f32_matrix({"a", a});
  check_f32_matrix({"b", b});
  // op(a) is (M, K) and op(b) is (K, N).
  const int64_t M = trans_a ? a.dim(1) : a.dim(0), K = trans_a ? a.dim(0) : a.dim(1);
  const int64_t Kb = trans_b ? b.dim(1) : b.dim(0), N = trans_b ? b.dim(0) : b.dim(1);
  if (K != Kb) {
    throw ShapeError(fmt::format("matmul: a ({}) and b ({}) do not chain: op(a) = {} is ({}, {}), op(b) = {} is "
                                 "({}, {}); the inner sizes {} and {} differ",
                                 shape_of(a), shape_of(b), trans_a ? "aT" : "a", M, K, trans_b ? "bT" : "b", Kb, N, K,
                                 Kb));
  }
  if (c.shape != Shape{M, N}) {
    throw ShapeError(fmt::format("matmul: c ({}) should be ({}, {}) = rows of op(a) ({}) x columns of op(b) ({})",
                                 shape_of(c), M, N, shape_of(a), shape_of(b)));
  }
  if (bias != nullptr) {
    check_tensor("matmul", {"bias", *bias}, {N}, DType::f32, fmt::format("one per column of c ({})", shape_of(c)));
    check_disjoint("matmul", {{"c", c}, {"bias", *bias}});
  }
  check_disjoint("matmul", {{"c", c}, {"a", a}});
  check_disjoint("matmul", {{"c", c}, {"b", b}});
  if (partials != nullptr) {
    check_dtype("matmul", {"partials", *partials}, DType::f32);
    const int64_t needed = matmul_partials_elements(M, N, K);
    if (partials->numel() < needed) {
      throw ShapeError(fmt::format("matmul: {} has {} elements; a {}x{}x{} product may split K into {} "
                                   "slices and needs {} (ops::matmul_partials_elements)",
                                   shape_of(*partials), partials->numel(), M, N, K, matmul_max_split(M, N, K), needed));
    }
    check_disjoint("matmul", {{"partials", *partials}, {"c", c}});
    check_disjoint("matmul", {{"partials", *partials}, {"a", a}});
    check_disjoint("matmul", {{"partials", *partials}, {"b", b}});
    if (bias != nullptr) check_disjoint("matmul", {{"partials", *partials}, {"bias", *bias}});
  }
  const EpilogueSetup post = setup_epilogue(epilogue, c);
  // The step is read and the gate read last: neither may be what this product writes.
  if (epilogue.step != nullptr) check_disjoint("matmul", {{"c", c}, {"step", *epilogue.step}});
  if (partials != nullptr) {
    if (epilogue.step != nullptr) check_disjoint("matmul", {{"partials", *partials}, {"step", *epilogue.step}});
    if (epilogue.gate != nullptr) check_disjoint("matmul", {{"partials", *partials}, {"gate", *epilogue.gate}});
  }
  const DeviceInfo& device = rec.context().info();
  check_tiling(tiling, device);
  const uint32_t lanes = tiling.tile_n / tiling.thread_n;
  if (!tiling.shared && !register_path_runs(device, lanes, tiling.load_x)) {
    throw ArgumentError(fmt::format("matmul: tiling {} needs {}subgroups of exactly {} lanes (a multiple of 4); "
                                    "{} has {}{}",
                                    matmul_tiling_text(tiling), tiling.load_x ? "" : "subgroup shuffles in compute shaders and ",
                                    lanes, device.name, device.subgroup_size,
                                    device.subgroup_shuffle || tiling.load_x ? "" : " and no shuffles"));
  }
  const uint32_t m32 = to_u32(M, "matmul rows"), n32 = to_u32(N, "matmul columns"), k32 = to_u32(K, "matmul K");
  if (m32 == 0 || n32 == 0) return;
  if (k32 == 0 && bias == nullptr) {
    rec.fill(c.slice, 0);  // an empty sum; 0.0f is all zero bits, and every epilogue keeps a zero
    return;
  }

  Oriented o;
  uint32_t tm = tiling.thread_m, tn = tiling.thread_n;
  uint32_t strip = 0;  // the register path's column strip (column_strip); 0: none
  if (tiling.shared) {
    o = orient(false, a, b, trans_a, trans_b, m32, n32, k32);
  } else {
    RegisterChoice choice = choose_registers(a, b, trans_a, trans_b, m32, n32, k32, tiling, lanes);
    o = choice.o;
    tm = choice.tm;
    tn = choice.tn;
    strip = column_strip(choice, device, lanes, tiling.load_x, k32);
  }
  const uint32_t threads = tiling.shared ? (tiling.tile_m / tm) * (tiling.tile_n / tn) : lanes;
  // The register path reads X and Y as vec4 when their rows are 16-byte aligned, and writes c as vec4 when
  // its rows are (N a multiple of 4: c's quads then lie along Z's columns, or along its rows when Z = Cᵀ).
  const uint32_t vec4 = !tiling.shared && vec4_loads(o) ? 1 : 0;
  const uint32_t z4 = !tiling.shared && n32 % 4 == 0 ? 1 : 0;
  // The kernel for blocks of tm x `columns` (tn, or a strip's 4), with the epilogue `mode`.
  const auto kernel_for = [&](uint32_t columns, EpilogueMode mode) -> const Kernel& {
    const std::vector<uint32_t> spec = {threads,
                                        o.x_k ? 1u : 0u,
                                        o.y_k ? 1u : 0u,
                                        vec4,
                                        tiling.shared ? 1u : 0u,
                                        tm,
                                        columns,
                                        // The shared-memory tiles; 1 x 1 on the register path, which declares
                                        // the shared arrays too but does not use them.
                                        tiling.shared ? tiling.tile_m : 1,
                                        tiling.shared ? tiling.tile_n : 1,
                                        tiling.shared ? tiling.tile_k : 1,
                                        o.transposed ? 1u : 0u,
                                        z4,
                                        mode,
                                        tiling.shared && tiling.prefetch ? 1u : 0u};
    return rec.context().kernel(std::string(!tiling.shared && tiling.load_x ? "matmul_load" : "matmul") +
                                    (!tiling.shared && tiling.u64_stores ? "_u64" : ""),
                                spec);
  };

  MatmulParams p{};
  p.R = o.R;
  p.Q = o.Q;
  p.K = k32;
  p.ldx = o.ldx;
  p.ldy = o.ldy;
  // c is (M, N) row-major: Z = C has strides (N, 1), Z = Cᵀ has (1, N); the bias follows C's columns,
  // which are Z's rows when Z = Cᵀ.
  p.zr = o.transposed ? 1 : n32;
  p.zq = o.transposed ? n32 : 1;
  p.bias_mode = bias == nullptr ? 0 : o.transposed ? 2 : 1;
  p.k_chunk = k32;
  p.z_slice = 0;
  p.c_offset = 0;
  p.seed_lo = post.seed_lo;
  p.seed_hi = post.seed_hi;
  p.layer = post.layer;
  p.threshold = post.threshold;
  p.scale = post.scale;

  // Bindings that are not read still need a buffer: with K = 0 the operands are empty, so the bias stands
  // in for them; without a bias, X stands in for it.
  const BufferSlice x = k32 > 0 ? o.x->slice : bias->slice;
  const BufferSlice y = k32 > 0 ? o.y->slice : bias->slice;
  const BufferSlice bias_slice = bias != nullptr ? bias->slice : x;
  // The quad texel buffers are read only with vec4 loads (then X and Y hold whole quads); otherwise a
  // placeholder of one quad stands in, since x or y may be shorter than a quad.
  const BufferSlice x4 = vec4 ? x : rec.context().placeholder();
  const BufferSlice y4 = vec4 ? y : rec.context().placeholder();
  // The epilogue's step and gate (its quads with vec4 stores of c), or placeholders.
  const BufferSlice step = post.mode == epilogue_relu_dropout ? epilogue.step->slice : rec.context().placeholder();
  const BufferSlice gate = post.mode == epilogue_gate ? epilogue.gate->slice : rec.context().placeholder();
  const BufferSlice gate4 = post.mode == epilogue_gate && z4 ? epilogue.gate->slice : rec.context().placeholder();
  const uint32_t tile_r = tiling.shared ? tiling.tile_m : tm;
  const uint32_t tile_q = tiling.shared ? tiling.tile_n : lanes * tn;
  std::array<uint32_t, 3> groups = {ceil_div(o.Q, tile_q), ceil_div(o.R, tile_r), 1};
  // A tiling other than the one matmul derives (the tuner's, a benchmark's) is named in the label, so profiles and
  // tests see which ran.
  const std::string tiling_note =
      tiling == matmul_untuned_tiling(device) ? ""
      : tiling.shared   ? fmt::format(", tiles {}x{}x{} of {}x{}{}", tiling.tile_m, tiling.tile_n, tiling.tile_k,
                                      tiling.thread_m, tiling.thread_n, tiling.prefetch ? " prefetched" : "")
                        : fmt::format(", blocks up to {}x{}", tiling.thread_m, tiling.thread_n);
  const std::string label = fmt::format("matmul {}x{}x{}{}{}{}", M, N, K, trans_a ? " aT" : "", trans_b ? " bT" : "",
                                        tiling_note);
  const std::string fused_label = label + post.label;

  // Split K when the product has too few workgroups for the device (see matmul_max_split, device_split).
  // Where K is split decides the order of the sums, so the register path decides it from the workgroups the
  // product has with 8 lanes and 64 x 8 blocks, whatever the subgroup size and block: lavapipe's vector width
  // changes the speed, never the bits (tests/lane_width).
  // On GPUs likewise from the conventional 64 x 64 tiles, whatever tiling the tuner picked.
  const MatmulTiling shared_basis = shared_memory_matmul_tiling();
  uint64_t split_basis = uint64_t(ceil_div(o.Q, shared_basis.tile_n)) * ceil_div(o.R, shared_basis.tile_m);
  if (!tiling.shared) {
    const RegisterChoice nominal =
        choose_registers(a, b, trans_a, trans_b, m32, n32, k32, k_split_basis_tiling, k_split_basis_lanes);
    split_basis = uint64_t(ceil_div(nominal.o.Q, k_split_basis_lanes * nominal.tn)) * ceil_div(nominal.o.R, nominal.tm);
  }
  uint32_t slices = partials != nullptr && k32 > 0 ? device_split(device, split_basis, M, N, K) : 1;
  // Whole granules a slice; rounding the chunk up may leave fewer slices than asked for, never an empty one.
  const uint32_t chunk = ceil_div(ceil_div(k32, std::max(slices, 1u)), k_split_granule) * k_split_granule;
  if (slices > 1) slices = ceil_div(k32, chunk);
  if (slices < 2 && strip == 0) {
    rec.dispatch(kernel_for(tn, post.mode), {c.slice, c.slice, x4, y4, x, y, bias_slice, x, y, step, gate, gate4}, p,
                 groups, fused_label);
    return;
  }
  if (slices < 2) {
    // Z's columns [0, strip) in whole tiles, then [strip, Q) as blocks of tm x 4, bound from column strip on.
    MatmulParams main_part = p;
    main_part.Q = strip;
    groups[0] = strip / tile_q;
    rec.dispatch(kernel_for(tn, post.mode), {c.slice, c.slice, x4, y4, x, y, bias_slice, x, y, step, gate, gate4},
                 main_part, groups, fused_label);
    MatmulParams last = p;
    last.Q = o.Q - strip;
    last.c_offset = strip * p.zq;
    const auto from = [](const BufferSlice& slice, uint64_t floats) {
      return slice.sub(floats * sizeof(float), slice.size - floats * sizeof(float));
    };
    const BufferSlice z_last = from(c.slice, uint64_t(strip) * p.zq);
    const BufferSlice y_last = from(y, uint64_t(strip) * (o.y_k ? o.ldy : 1u));
    const BufferSlice bias_last = p.bias_mode == 1 ? from(bias_slice, strip) : bias_slice;
    const BufferSlice y4_last = vec4 ? y_last : y4;
    rec.dispatch(kernel_for(4, post.mode), {z_last, z_last, x4, y4_last, x, y_last, bias_last, x, y_last, step, gate, gate4},
                 last, {ceil_div(last.Q, lanes * 4), groups[1], 1},
                 fmt::format("{}, columns from {} as {}x4 blocks{}", label, strip, tm, post.label));
    return;
  }
  const uint64_t stride = split_slice_stride(M * N);
  const BufferSlice used = partials->slice.sub(0, slices * stride * sizeof(float));
  p.k_chunk = chunk;
  p.z_slice = static_cast<uint32_t>(stride);
  p.bias_mode = 0;
  groups[2] = slices;
  const BufferSlice none = rec.context().placeholder();
  rec.dispatch(kernel_for(tn, epilogue_none), {used, used, x4, y4, x, y, bias_slice, x, y, none, none, none}, p, groups,
               fmt::format("{}, K split {} ways", label, slices));
  sum_slices(rec, c, used, slices, stride, bias, fmt::format("{}: sum of {} slices", label, slices));
  record_epilogue_pass(rec, c, epilogue, post);
}

}  // namespace vkdrop::ops

#pragma once
// check_op: an op tested in one line, as tinygrad's helper_test_op does. For every case (one shape per input):
//   1. seeded f32 inputs in [lo, hi], each at least `avoid` from 0, and a seeded dy in [-1, 1];
//   2. forward: the GPU's y against the double reference evaluated on exactly those f32 inputs;
//   3. finite differences: the reference backward against central differences of the reference forward, in
//      double — element by element (up to fd_elements of each input) and along one seeded random direction
//      through all inputs at once. This checks the specification itself before the GPU is held to it;
//   4. backward: the GPU's dx against the reference backward (tolerances grad_atol, grad_rtol).
// y and every dx start as NaN on the device, so an element a kernel never writes fails, and so does a backward
// that accumulates into dx instead of writing it. Every failure names the op, the pass, the tensor and the
// shapes: "sigmoid backward dx at x (37, 29): ...".
//
// The reference functions of reference/*.hpp are templates on T: instantiate them with double here.
#include "gpu.hpp"

#include <vkdrop/runtime/arena.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace vkdrop::test {

using Values = std::vector<double>;  // a tensor's values in double, row-major

struct OpSpec {
  std::string name;                        // "sigmoid": starts every failure message
  std::vector<std::string> inputs = {"x"};  // input names, for messages; the gradients are "d" + name
  // The output's shape from the inputs' shapes. Empty: the first input's shape.
  std::function<Shape(const std::vector<Shape>& shapes)> output_shape;
  // The specification, in double: y for the inputs x (one Values per input).
  std::function<Values(const std::vector<Values>& x, const std::vector<Shape>& shapes)> reference_forward;
  // dL/dx_i for dL/dy = dy, where y is reference_forward's output. Empty: the op has no gradient, and steps 3
  // and 4 are skipped.
  std::function<std::vector<Values>(const std::vector<Values>& x, const Values& y, const Values& dy,
                                    const std::vector<Shape>& shapes)>
      reference_backward;
  // The GPU op, recorded into `rec`.
  std::function<void(Recorder& rec, const Tensor& y, const std::vector<Tensor>& x)> forward;
  // The GPU gradient: dx (one per input) from dy, the inputs and the forward's output. May be empty (an op
  // without a GPU backward; its reference backward is still checked against finite differences).
  std::function<void(Recorder& rec, const std::vector<Tensor>& dx, const Tensor& dy, const std::vector<Tensor>& x,
                     const Tensor& y)>
      backward;
  float lo = -3, hi = 3;  // inputs drawn uniformly (seeded) in [lo, hi]
  float avoid = 0;        // and at least this far from 0: keeps kinks (ReLU's) out of the differences' reach
  double atol = 1e-6, rtol = 1e-5;            // GPU vs reference, forward
  double grad_atol = 1e-5, grad_rtol = 1e-4;  // GPU vs reference, backward
  double fd_eps = 1e-4, fd_tol = 1e-5;        // reference backward vs central differences, in double
  size_t fd_elements = 4096;  // elements of each input differenced one by one (evenly spaced beyond that)
  // Element-wise ops: also run y = x (forward in place) and dx = dy (backward in place), which must give the
  // same results as separate tensors.
  bool in_place = false;
};

// "x (3, 5, 7)", "x (2, 3), w (3, 4)": the inputs of one case.
inline std::string case_text(const OpSpec& spec, const std::vector<Shape>& shapes) {
  std::string text;
  for (size_t i = 0; i < shapes.size(); ++i) {
    text += fmt::format("{}{} {}", i ? ", " : "", i < spec.inputs.size() ? spec.inputs[i] : "?", shape_text(shapes[i]));
  }
  return text;
}

inline Shape output_shape_of(const OpSpec& spec, const std::vector<Shape>& shapes) {
  return spec.output_shape ? spec.output_shape(shapes) : shapes.at(0);
}

// n values uniform in [lo, hi], each redrawn until it is at least `avoid` from 0.
inline std::vector<float> op_input(size_t n, uint32_t seed, float lo, float hi, float avoid) {
  REQUIRE(lo <= hi);
  REQUIRE((avoid <= 0 || hi > avoid || lo < -avoid));  // some of [lo, hi] lies outside (-avoid, avoid)
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) {
    do x = dist(rng);
    while (std::abs(x) < avoid);
  }
  return v;
}

inline Values to_double(std::span<const float> v) { return Values(v.begin(), v.end()); }

// The reference's doubles rounded to float, for comparison with the GPU's floats.
inline std::vector<float> to_float(const Values& v) {
  std::vector<float> f(v.size());
  for (size_t i = 0; i < v.size(); ++i) f[i] = static_cast<float>(v[i]);
  return f;
}

// What an op computed: y, and dx per input (empty when it has no backward).
struct OpValues {
  std::vector<float> y;
  std::vector<std::vector<float>> dx;
};

// The reference on f32 inputs, evaluated in double and rounded to float.
inline OpValues reference_op(const OpSpec& spec, const std::vector<Shape>& shapes,
                             const std::vector<std::vector<float>>& x, const std::vector<float>& dy) {
  std::vector<Values> xd;
  for (const auto& v : x) xd.push_back(to_double(v));
  const Values y = spec.reference_forward(xd, shapes);
  OpValues out{to_float(y), {}};
  if (spec.reference_backward) {
    for (const Values& g : spec.reference_backward(xd, y, to_double(dy), shapes)) out.dx.push_back(to_float(g));
  }
  return out;
}

namespace detail {

constexpr float k_unwritten = std::numeric_limits<float>::quiet_NaN();  // what y and dx hold before the op

inline Tensor tensor_with(Context& ctx, Arena& arena, const Shape& shape, const std::string& name,
                          const std::vector<float>& values) {
  Tensor t = make_tensor(arena, shape, DType::f32, name);
  REQUIRE(values.size() == static_cast<size_t>(t.numel()));
  upload(ctx, t, std::span<const float>(values));
  return t;
}

inline std::vector<float> unwritten(const Shape& shape) {
  return std::vector<float>(static_cast<size_t>(element_count(shape)), k_unwritten);
}

}  // namespace detail

// The GPU op on these inputs (and, if it has a backward, this dy), all in one recording. With `in_place`, y is
// written over a copy of x[0] and dx[0] over a copy of dy (the backward still gets the original x and y).
inline OpValues run_op(const OpSpec& spec, const std::vector<Shape>& shapes, const std::vector<std::vector<float>>& x,
                       const std::vector<float>& dy, bool in_place = false) {
  Context& ctx = context();
  Arena arena(ctx, 1 << 20);
  REQUIRE(x.size() == shapes.size());
  REQUIRE(spec.inputs.size() == shapes.size());
  const Shape out_shape = output_shape_of(spec, shapes);
  std::vector<Tensor> xs;
  for (size_t i = 0; i < shapes.size(); ++i) xs.push_back(detail::tensor_with(ctx, arena, shapes[i], spec.inputs[i], x[i]));
  const bool backward = static_cast<bool>(spec.backward);
  if (in_place) REQUIRE((shapes.size() == 1 && out_shape == shapes[0]));
  Recorder rec(ctx);

  Tensor y = detail::tensor_with(ctx, arena, out_shape, "y", detail::unwritten(out_shape));
  Tensor y_in_place;  // out_shape: starts as x[0]
  if (in_place) {
    y_in_place = detail::tensor_with(ctx, arena, out_shape, "x (becomes y)", x[0]);
    spec.forward(rec, y_in_place, {y_in_place});
  }
  spec.forward(rec, y, xs);

  std::vector<Tensor> dxs;
  if (backward) {
    Tensor dy_t = detail::tensor_with(ctx, arena, out_shape, "dy", dy);
    for (size_t i = 0; i < shapes.size(); ++i) {
      dxs.push_back(in_place ? detail::tensor_with(ctx, arena, out_shape, "dy (becomes dx)", dy)
                             : detail::tensor_with(ctx, arena, shapes[i], "d" + spec.inputs[i], detail::unwritten(shapes[i])));
    }
    spec.backward(rec, dxs, in_place ? dxs[0] : dy_t, xs, y);
  }
  rec.run();

  OpValues out{download_f32(ctx, in_place ? y_in_place : y), {}};
  for (const Tensor& dx : dxs) out.dx.push_back(download_f32(ctx, dx));
  return out;
}

// The reference backward against central differences of the reference forward, in double, for the loss
// L(x) = Σ_j dy_j · y_j(x), whose gradient with respect to input i is exactly reference_backward(x, y, dy)[i]:
//   - element by element: ∂L/∂x_i[k] ≈ (L(x_i[k] + ε) - L(x_i[k] - ε)) / 2ε, for up to fd_elements elements of
//     each input (all of a smaller one), within fd_tol · (1 + |difference|);
//   - along a seeded direction v (every element uniform in [-1, 1]) through all inputs at once:
//     Σ_i <dx_i, v_i> ≈ (L(x + εv) - L(x - εv)) / 2ε, within fd_tol · (1 + Σ_i Σ_k |dx_i[k] v_i[k]|).
// Returns "" when they agree, else what disagrees (the first mismatches), so a test can check the check.
inline std::string finite_difference_mismatches(const OpSpec& spec, const std::vector<Shape>& shapes,
                                                const std::vector<Values>& x, const Values& dy, uint32_t seed) {
  const Values y = spec.reference_forward(x, shapes);
  const std::vector<Values> dx = spec.reference_backward(x, y, dy, shapes);
  if (dx.size() != x.size()) return fmt::format("the reference backward gave {} gradients for {} inputs", dx.size(), x.size());
  const double eps = spec.fd_eps;
  auto loss = [&](const std::vector<Values>& at) {
    const Values out = spec.reference_forward(at, shapes);
    double sum = 0;
    for (size_t j = 0; j < out.size(); ++j) sum += dy[j] * out[j];
    return sum;
  };

  std::string first;
  size_t bad = 0, checked = 0;
  std::vector<Values> probe = x;
  for (size_t i = 0; i < x.size(); ++i) {
    const std::string grad = "d" + spec.inputs.at(i);
    if (dx[i].size() != x[i].size()) {
      return fmt::format("the reference backward's {} has {} values, {} has {}", grad, dx[i].size(), spec.inputs[i],
                         x[i].size());
    }
    const size_t n = x[i].size(), count = std::min(n, spec.fd_elements);
    for (size_t c = 0; c < count; ++c) {
      const size_t k = count == n ? c : c * n / count;
      probe[i][k] = x[i][k] + eps;
      const double plus = loss(probe);
      probe[i][k] = x[i][k] - eps;
      const double minus = loss(probe);
      probe[i][k] = x[i][k];
      const double numeric = (plus - minus) / (2 * eps);
      ++checked;
      if (!(std::abs(dx[i][k] - numeric) <= spec.fd_tol * (1 + std::abs(numeric))) && bad++ < 5) {
        first += fmt::format("\n  {}[{}] at {} = {:.9g}: reference backward {:.9g}, central difference {:.9g}", grad, k,
                             spec.inputs[i], x[i][k], dx[i][k], numeric);
      }
    }
  }
  if (bad > 0) {
    return fmt::format("{} of {} elements differ beyond fd_tol={} (eps={}); first:{}", bad, checked, spec.fd_tol, eps,
                       first);
  }

  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  std::vector<Values> plus = x, minus = x;
  double analytic = 0, scale = 1;
  for (size_t i = 0; i < x.size(); ++i) {
    for (size_t k = 0; k < x[i].size(); ++k) {
      const double v = unit(rng);
      plus[i][k] += eps * v;
      minus[i][k] -= eps * v;
      analytic += dx[i][k] * v;
      scale += std::abs(dx[i][k] * v);
    }
  }
  const double numeric = (loss(plus) - loss(minus)) / (2 * eps);
  if (!(std::abs(analytic - numeric) <= spec.fd_tol * scale)) {
    return fmt::format("along a random direction v: Σ <d{}, v> = {:.12g} by the reference backward, {:.12g} by "
                       "central differences (|diff| {:.3g} > fd_tol * {:.6g})",
                       spec.inputs.size() == 1 ? spec.inputs[0] : "x_i", analytic, numeric,
                       std::abs(analytic - numeric), scale);
  }
  return "";
}

// Every case is one list of shapes, one per input:
//   check_op(sigmoid, {{{1}}, {{7}}, {{37, 29}}});
inline void check_op(const OpSpec& spec, std::initializer_list<std::vector<Shape>> cases) {
  REQUIRE(spec.reference_forward);
  REQUIRE(spec.forward);
  uint32_t case_index = 0;
  for (const std::vector<Shape>& shapes : cases) {
    ++case_index;
    const std::string at = case_text(spec, shapes);
    INFO(spec.name << " at " << at);
    REQUIRE(shapes.size() == spec.inputs.size());
    const Shape out_shape = output_shape_of(spec, shapes);
    const uint32_t seed = 1000 * case_index;
    std::vector<std::vector<float>> x;
    for (size_t i = 0; i < shapes.size(); ++i) {
      x.push_back(op_input(static_cast<size_t>(element_count(shapes[i])), seed + uint32_t(i), spec.lo, spec.hi, spec.avoid));
    }
    const std::vector<float> dy = random_floats(static_cast<size_t>(element_count(out_shape)), seed + 999);

    const OpValues want = reference_op(spec, shapes, x, dy);
    {
      INFO(spec.name << " reference at " << at);
      REQUIRE(want.y.size() == static_cast<size_t>(element_count(out_shape)));  // the reference's y has y's shape
    }
    const OpValues got = run_op(spec, shapes, x, dy);
    const std::string y_at = fmt::format("y {} at {}", shape_text(out_shape), at);
    expect_close(got.y, want.y, spec.atol, spec.rtol, spec.name + " forward " + y_at);
    const OpValues in_place = spec.in_place ? run_op(spec, shapes, x, dy, true) : OpValues{};
    if (spec.in_place) expect_close(in_place.y, want.y, spec.atol, spec.rtol, spec.name + " forward in place " + y_at);
    if (!spec.reference_backward) {
      REQUIRE_FALSE(spec.backward);  // a GPU backward needs a reference to be checked against
      continue;
    }

    std::vector<Values> xd;
    for (const auto& v : x) xd.push_back(to_double(v));
    const std::string fd = finite_difference_mismatches(spec, shapes, xd, to_double(dy), seed + 998);
    if (!fd.empty()) FAIL(fmt::format("{} finite differences at {}: {}", spec.name, at, fd));

    if (!spec.backward) continue;
    REQUIRE(want.dx.size() == shapes.size());
    for (size_t i = 0; i < shapes.size(); ++i) {
      expect_close(got.dx[i], want.dx[i], spec.grad_atol, spec.grad_rtol,
                   fmt::format("{} backward d{} at {}", spec.name, spec.inputs[i], at));
    }
    if (spec.in_place) {
      expect_close(in_place.dx.at(0), want.dx[0], spec.grad_atol, spec.grad_rtol,
                   fmt::format("{} backward in place d{} at {}", spec.name, spec.inputs[0], at));
    }
  }
}

// Edge values compared exactly: NaN where `want` has a NaN (any payload), otherwise the same bits, so -0 and +0
// are told apart. (expect_bits also tells NaN payloads apart, which no op here promises to keep.)
inline void expect_same(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  INFO(what);
  REQUIRE(got.size() == want.size());
  size_t bad = 0;
  std::string first;
  for (size_t i = 0; i < got.size(); ++i) {
    const bool ok = std::isnan(want[i]) ? std::isnan(got[i]) : std::memcmp(&got[i], &want[i], sizeof(float)) == 0;
    if (!ok && bad++ < 5) first += fmt::format("\n  [{}] got {}, want {}", i, got[i], want[i]);
  }
  if (bad > 0) FAIL(fmt::format("{}: {} of {} elements differ; first:{}", what, bad, got.size(), first));
}

}  // namespace vkdrop::test

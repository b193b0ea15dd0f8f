// ELU (ops/elu.hpp, layers/elu.hpp) against reference/elu.hpp.
//
// Tolerances, GPU against the double reference, from what Vulkan guarantees (exp within 3 + 2|x| ULP, + and *
// correctly rounded). Forward rtol 1e-6, atol 0: below x = -1/2 the shader computes e^x - 1, where e^x's error
// (4 ULP of e^-0.5 at worst, relative to e^x - 1 = -0.39) is about 6e-7; above, its Taylor series is within 2e-8
// plus a few roundings; x > 0 is exact. Backward rtol 2.5e-6, atol 0: dy · alpha · e^x with e^x within 15 ULP for
// x >= -6, plus two roundings. (lavapipe is within 3.2e-7 forward and 6.9e-7 backward.) The reference gets alpha
// as the float the GPU gets. Inputs stay 1e-3 from the kink at 0, ten times the difference step.
#include "op_check.hpp"
#include "synthetic.hpp"

#include <vkdrop/layers/elu.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/ops/elu.hpp>
#include <vkdrop/reference/elu.hpp>
#include <vkdrop/runtime/error.hpp>

#include <cmath>
#include <limits>
#include <vector>

using namespace vkdrop;
using Catch::Matchers::Contains;
using test::Values;

namespace {

constexpr float k_inf = std::numeric_limits<float>::infinity();
constexpr float k_nan = std::numeric_limits<float>::quiet_NaN();

test::OpSpec elu_spec(float alpha) {
  test::OpSpec s;
  s.name = fmt::format("elu(alpha={})", alpha);
  s.reference_forward = [alpha](const std::vector<Values>& x, const std::vector<Shape>&) {
    Values y(x[0].size());
    ref::elu_forward(y.data(), x[0].data(), int(y.size()), double(alpha));
    return y;
  };
  s.reference_backward = [alpha](const std::vector<Values>& x, const Values&, const Values& dy,
                                 const std::vector<Shape>&) {
    Values dx(x[0].size());
    ref::elu_backward(dx.data(), dy.data(), x[0].data(), int(dx.size()), double(alpha));
    return std::vector<Values>{dx};
  };
  s.forward = [alpha](Recorder& rec, const Tensor& y, const std::vector<Tensor>& x) {
    ops::elu_forward(rec, y, x[0], alpha);
  };
  s.backward = [alpha](Recorder& rec, const std::vector<Tensor>& dx, const Tensor& dy, const std::vector<Tensor>& x,
                       const Tensor&) { ops::elu_backward(rec, dx[0], dy, x[0], alpha); };
  s.lo = -6;  // into the saturation towards -alpha
  s.hi = 3;
  s.avoid = 1e-3f;
  s.atol = 0;
  s.rtol = 1e-6;
  s.grad_atol = 0;
  s.grad_rtol = 2.5e-6;
  s.in_place = true;
  return s;
}

}  // namespace

TEST_CASE("elu forward and backward over odd shapes") {
  test::check_op(elu_spec(1.0f), {{{1}}, {{7}}, {{33}}, {{129}}, {{1000}}, {{37, 29}}});
  // Other alphas: with alpha != 1 ELU has a kink at 0, as ReLU.
  test::check_op(elu_spec(0.5f), {{{33}}, {{37, 29}}});
  test::check_op(elu_spec(2.0f), {{{33}}, {{37, 29}}});
}

TEST_CASE("elu at the edges: ±0, tiny and huge x, infinities and NaN") {
  // By hand, as PyTorch: x <= 0 takes alpha · (e^x - 1), so ELU(-0) = alpha · -0 = -0, ELU'(±0) = alpha (not 1),
  // a tiny negative x gives alpha · x, and from x = -17.33 on e^x - 1 rounds to -1 in float, so ELU = -alpha
  // (and -inf gives -alpha, with gradient 0). A NaN input gives NaN and passes dy back (x <= 0 is false).
  for (const float a : {1.0f, 0.5f}) {
    INFO("alpha = " << a);
    const std::vector<float> xs = {0.0f, -0.0f, 1e-30f, -1e-30f, -20.0f, -1000.0f, -k_inf, k_inf, 1e30f, k_nan};
    const std::vector<float> dy(xs.size(), 3.0f);
    const std::vector<float> want_y = {0.0f, -0.0f, 1e-30f, a * -1e-30f, -a, -a, -a, k_inf, 1e30f, k_nan};
    const float g = 3.0f * a;
    const std::vector<float> want_dx = {g, g, 3.0f, g, 3.0f * a * std::exp(-20.0f), 0.0f, 0.0f, 3.0f, 3.0f, 3.0f};
    const Shape shape{int64_t(xs.size())};
    const test::OpValues reference = test::reference_op(elu_spec(a), {shape}, {xs}, dy);
    test::expect_same(reference.y, want_y, "reference elu forward at the edges");
    const test::OpValues got = test::run_op(elu_spec(a), {shape}, {xs}, dy);
    test::expect_same(got.y, want_y, "elu forward at the edges");
    // The backward multiplies by e^x wherever x <= 0, and Vulkan does not promise even e^0 = 1 exactly (lavapipe's
    // e^-1e-30 is 1 - 2^-24): compared with a tolerance, 1e-5 as exp may be 43 ULP off at x = -20, and FLT_MIN for
    // the zeros e^-1000 and e^-inf. That still tells ELU'(0) = alpha from 1 when alpha = 0.5.
    test::expect_close(reference.dx.at(0), want_dx, 0, 1e-6, "reference elu backward at the edges");
    test::expect_close(got.dx.at(0), want_dx, std::numeric_limits<float>::min(), 1e-5, "elu backward at the edges");
  }

  // Either side of the shader's switch from the series to e^x - 1 (x = -1/2), small |x| where e^x - 1 would cancel,
  // and e^-88, a float denormal that a device may flush to 0 (atol FLT_MIN), with check_op's tolerances.
  const std::vector<float> near = {-0.5f, std::nextafter(-0.5f, 0.0f), -0.25f, -1e-6f, -3e-4f, -3.0f, -6.0f, -88.0f};
  const std::vector<float> ones(near.size(), 1.0f);
  const Shape near_shape{int64_t(near.size())};
  const test::OpValues near_want = test::reference_op(elu_spec(1.0f), {near_shape}, {near}, ones);
  const test::OpValues near_got = test::run_op(elu_spec(1.0f), {near_shape}, {near}, ones);
  test::expect_close(near_got.y, near_want.y, 0, 1e-6, "elu forward around the switch and for small |x|");
  test::expect_close(near_got.dx.at(0), near_want.dx.at(0), std::numeric_limits<float>::min(), 2.5e-6,
                     "elu backward around the switch and for small |x|");
}

TEST_CASE("elu rejects bad arguments and records nothing for empty tensors") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  Tensor a = make_tensor(arena, {4, 8}, DType::f32, "a"), b = make_tensor(arena, {8, 4}, DType::f32, "b");
  Tensor c = make_tensor(arena, {4, 8}, DType::f32, "c");
  Tensor ints = make_tensor(arena, {4, 8}, DType::i32, "ints");
  Recorder rec(ctx);
  CHECK_THROWS_WITH(ops::elu_forward(rec, b, a, 1.0f), Contains("elu_forward") && Contains("(4, 8)") && Contains("(8, 4)"));
  CHECK_THROWS_AS(ops::elu_backward(rec, c, a, b, 1.0f), ShapeError);
  CHECK_THROWS_WITH(ops::elu_backward(rec, c, a, b, 1.0f), Contains("elu_backward") && Contains("'b'"));
  CHECK_THROWS_WITH(ops::elu_forward(rec, ints, a, 1.0f), Contains("'ints' is i32, expected f32"));
  CHECK_THROWS_AS(ops::elu_backward(rec, c, ints, a, 1.0f), ArgumentError);
  // A partial overlap (y starts one element into x) would read elements already overwritten.
  Tensor shifted{a.slice.sub(4, a.bytes() - 4), {31}, DType::f32, "shifted"};
  Tensor head{a.slice.sub(0, a.bytes() - 4), {31}, DType::f32, "head"};
  CHECK_THROWS_WITH(ops::elu_forward(rec, shifted, head, 1.0f), Contains("partially overlap"));
  CHECK_THROWS_AS(ops::elu_backward(rec, shifted, head, head, 1.0f), ArgumentError);
  // alpha must be finite.
  CHECK_THROWS_WITH(ops::elu_forward(rec, c, a, k_nan), Contains("elu_forward: invalid alpha = nan"));
  CHECK_THROWS_AS(ops::elu_backward(rec, c, a, a, k_inf), ArgumentError);
  CHECK_THROWS_WITH(ELU(-k_inf), Contains("ELU: invalid alpha = -inf"));
  CHECK_THROWS_AS(ELU(std::nan("")), ArgumentError);
  CHECK_THROWS_AS(ELU(1e39), ArgumentError);  // finite as a double, inf as the float the GPU would get
  CHECK(rec.dispatch_count() == 0);
  Tensor empty = make_tensor(arena, {0, 8}, DType::f32, "empty");
  ops::elu_forward(rec, empty, empty, 1.0f);
  ops::elu_backward(rec, empty, empty, empty, 1.0f);
  CHECK(rec.dispatch_count() == 0);
}

TEST_CASE("ELU prints as PyTorch prints it") {
  // Python's float repr: 1.0 and 2.0 keep their ".0".
  CHECK(ELU().describe() == "ELU(alpha=1.0)");
  CHECK(ELU(0.5).describe() == "ELU(alpha=0.5)");
  CHECK(ELU(2).describe() == "ELU(alpha=2.0)");
  CHECK(ELU(0.1).describe() == "ELU(alpha=0.1)");
  CHECK(ELU(1e-7).describe() == "ELU(alpha=1e-07)");
  const Sequential net{Linear(16, 32), ELU()};
  CHECK_THAT(net.describe(), Contains("(1): ELU(alpha=1.0)\n"));
}

TEST_CASE("a model with an ELU layer trains") {
  const test::SyntheticRun run = test::train_synthetic(Sequential{Linear(16, 32), ELU(), Linear(32, 4)}, 4);
  CHECK(run.last_loss < run.first_loss);
  CHECK(run.first_weight_change > 0);  // the gradient reached the first layer through the elu
}

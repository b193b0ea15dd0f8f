// Tanh (ops/tanh.hpp, layers/tanh.hpp) against reference/tanh.hpp.
//
// Tolerances, GPU against the double reference, from what Vulkan guarantees (exp within 3 + 2|x| ULP, a division
// within 2.5 ULP, + and * correctly rounded). For |x| >= 1/4 the shader computes (1 - e) / (1 + e) with
// e = e^(-2|x|); e's error reaches y amplified by 2e / (1 - e²) <= 1.92, so y is within about 11 ULP (1.3e-6); below
// 1/4 the series is within 1e-8 plus a few roundings: forward rtol 2e-6, atol 0. Backward gets that y, and 1 - y²
// moves by at most 2|y||Δy| <= 2.6e-6: grad_atol 3e-6 (|dy| <= 1), grad_rtol 1e-6. (lavapipe is within 4.6e-7.)
#include "op_check.hpp"
#include "synthetic.hpp"

#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/tanh.hpp>
#include <vkdrop/ops/tanh.hpp>
#include <vkdrop/reference/tanh.hpp>
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

test::OpSpec tanh_spec() {
  test::OpSpec s;
  s.name = "tanh";
  s.reference_forward = [](const std::vector<Values>& x, const std::vector<Shape>&) {
    Values y(x[0].size());
    ref::tanh_forward(y.data(), x[0].data(), int(y.size()));
    return y;
  };
  s.reference_backward = [](const std::vector<Values>&, const Values& y, const Values& dy, const std::vector<Shape>&) {
    Values dx(y.size());
    ref::tanh_backward(dx.data(), dy.data(), y.data(), int(dx.size()));
    return std::vector<Values>{dx};
  };
  s.forward = [](Recorder& rec, const Tensor& y, const std::vector<Tensor>& x) { ops::tanh_forward(rec, y, x[0]); };
  s.backward = [](Recorder& rec, const std::vector<Tensor>& dx, const Tensor& dy, const std::vector<Tensor>&,
                  const Tensor& y) { ops::tanh_backward(rec, dx[0], dy, y); };
  s.lo = -5;  // both of the shader's formulas, and tails where 1 - y² keeps few digits in float
  s.hi = 5;
  s.atol = 0;
  s.rtol = 2e-6;
  s.grad_atol = 3e-6;
  s.grad_rtol = 1e-6;
  s.in_place = true;
  return s;
}

}  // namespace

TEST_CASE("tanh forward and backward over odd shapes") {
  test::check_op(tanh_spec(), {{{1}}, {{7}}, {{33}}, {{129}}, {{1000}}, {{37, 29}}});
}

TEST_CASE("tanh at the edges: ±0, tiny and large |x|, infinities and NaN") {
  // By hand: tanh keeps the sign of zero (tanh(-0) = -0), is x itself in float for |x| < 2^-12 (x³/3 is below half
  // an ULP of x), rounds to ±1 from |x| = 9.02 on, so tanh' = 1 - y² is 1 at zero and 0 there; NaN stays NaN.
  // Nothing may overflow on the way (e^88 is finite in float, e^89 is not).
  const std::vector<float> xs = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-5f, 20.0f, -20.0f, 88.0f, -88.0f, 89.0f, -1000.0f,
                                 k_inf, -k_inf, k_nan};
  const std::vector<float> dy(xs.size(), 3.0f);
  const std::vector<float> want_y = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-5f, 1.0f, -1.0f, 1.0f, -1.0f, 1.0f, -1.0f,
                                     1.0f, -1.0f, k_nan};
  const std::vector<float> want_dx = {3.0f, 3.0f, 3.0f, 3.0f, 3.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, k_nan};
  const Shape shape{int64_t(xs.size())};
  const test::OpValues reference = test::reference_op(tanh_spec(), {shape}, {xs}, dy);  // double, rounded
  test::expect_same(reference.y, want_y, "reference tanh forward at the edges");
  std::vector<float> ref_dx(xs.size());  // in float, as the GPU: from y rounded to float
  ref::tanh_backward(ref_dx.data(), dy.data(), want_y.data(), int(xs.size()));
  test::expect_same(ref_dx, want_dx, "reference tanh backward (in float) at the edges");

  const test::OpValues got = test::run_op(tanh_spec(), {shape}, {xs}, dy);
  test::expect_same(got.y, want_y, "tanh forward at the edges");
  test::expect_same(got.dx.at(0), want_dx, "tanh backward at the edges");

  // Either side of the shader's switch from the series to the exponential (|x| = 1/4) and further out, with the
  // forward tolerance of check_op; 1 - y² at y = tanh(±6) = ±(1 - 1.2e-5) keeps about three digits in float: an
  // absolute tolerance for the backward.
  const std::vector<float> near = {0.25f, std::nextafter(0.25f, 0.0f), -0.25f, 0.2f, -0.3f, 6.0f, -6.0f, 1e-3f};
  const std::vector<float> ones(near.size(), 1.0f);
  const Shape near_shape{int64_t(near.size())};
  const test::OpValues near_want = test::reference_op(tanh_spec(), {near_shape}, {near}, ones);
  const test::OpValues near_got = test::run_op(tanh_spec(), {near_shape}, {near}, ones);
  test::expect_close(near_got.y, near_want.y, 0, 2e-6, "tanh forward around the switch and in the tails");
  test::expect_close(near_got.dx.at(0), near_want.dx.at(0), 3e-6, 1e-6, "tanh backward around the switch and in the tails");
  // A denormal input gives itself, or 0 on a device that flushes denormals.
  const float denormal = 1e-40f;
  const float got_denormal = test::run_op(tanh_spec(), {{1}}, {{denormal}}, {1.0f}).y.at(0);
  CHECK((got_denormal == denormal || got_denormal == 0.0f));
}

TEST_CASE("tanh rejects tensors that do not match and records nothing for empty ones") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  Tensor a = make_tensor(arena, {4, 8}, DType::f32, "a"), b = make_tensor(arena, {8, 4}, DType::f32, "b");
  Tensor c = make_tensor(arena, {4, 8}, DType::f32, "c");
  Tensor ints = make_tensor(arena, {4, 8}, DType::i32, "ints");
  Recorder rec(ctx);
  CHECK_THROWS_WITH(ops::tanh_forward(rec, b, a), Contains("tanh_forward") && Contains("(4, 8)") && Contains("(8, 4)"));
  CHECK_THROWS_AS(ops::tanh_backward(rec, c, a, b), ShapeError);
  CHECK_THROWS_WITH(ops::tanh_backward(rec, c, a, b), Contains("tanh_backward") && Contains("'b'"));
  CHECK_THROWS_WITH(ops::tanh_forward(rec, ints, a), Contains("'ints' is i32, expected f32"));
  CHECK_THROWS_AS(ops::tanh_backward(rec, c, ints, a), ArgumentError);
  // A partial overlap (y starts one element into x) would read elements already overwritten.
  Tensor shifted{a.slice.sub(4, a.bytes() - 4), {31}, DType::f32, "shifted"};
  Tensor head{a.slice.sub(0, a.bytes() - 4), {31}, DType::f32, "head"};
  CHECK_THROWS_WITH(ops::tanh_forward(rec, shifted, head), Contains("partially overlap"));
  CHECK_THROWS_AS(ops::tanh_backward(rec, shifted, head, head), ArgumentError);
  CHECK(rec.dispatch_count() == 0);
  Tensor empty = make_tensor(arena, {0, 8}, DType::f32, "empty");
  ops::tanh_forward(rec, empty, empty);
  ops::tanh_backward(rec, empty, empty, empty);
  CHECK(rec.dispatch_count() == 0);
}

TEST_CASE("Tanh prints as PyTorch prints it") {
  CHECK(Tanh().describe() == "Tanh()");
  const Sequential net{Linear(16, 32), Tanh()};
  CHECK_THAT(net.describe(), Contains("(1): Tanh()\n"));
}

TEST_CASE("a model with a Tanh layer trains") {
  const test::SyntheticRun run = test::train_synthetic(Sequential{Linear(16, 32), Tanh(), Linear(32, 4)}, 4);
  CHECK(run.last_loss < run.first_loss);
  CHECK(run.first_weight_change > 0);  // the gradient reached the first layer through the tanh
}

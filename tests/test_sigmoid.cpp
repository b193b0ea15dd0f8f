// Sigmoid (ops/sigmoid.hpp, layers/sigmoid.hpp) against reference/sigmoid.hpp.
//
// Tolerances, GPU against the double reference, from what Vulkan guarantees: exp within 3 + 2|x| ULP, a division
// within 2.5 ULP, + and * correctly rounded. For |x| <= 8 that bounds y's relative error by about 23 ULP (2.7e-6)
// on either branch (1 / (1 + e) or e / (1 + e)): forward rtol 3e-6, atol 0. Backward gets that y, and
// y · (1 - y) moves by at most |Δy| <= 2.7e-6 (its slope 1 - 2y is at most 1 in size), plus three roundings:
// grad_atol 3e-6 (|dy| <= 1), grad_rtol 1e-6. (lavapipe is within 7e-7 forward and 1e-7 backward.)
#include "op_check.hpp"
#include "synthetic.hpp"

#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/sigmoid.hpp>
#include <vkdrop/ops/sigmoid.hpp>
#include <vkdrop/reference/sigmoid.hpp>
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

test::OpSpec sigmoid_spec() {
  test::OpSpec s;
  s.name = "sigmoid";
  s.reference_forward = [](const std::vector<Values>& x, const std::vector<Shape>&) {
    Values y(x[0].size());
    ref::sigmoid_forward(y.data(), x[0].data(), int(y.size()));
    return y;
  };
  s.reference_backward = [](const std::vector<Values>&, const Values& y, const Values& dy, const std::vector<Shape>&) {
    Values dx(y.size());
    ref::sigmoid_backward(dx.data(), dy.data(), y.data(), int(dx.size()));
    return std::vector<Values>{dx};
  };
  s.forward = [](Recorder& rec, const Tensor& y, const std::vector<Tensor>& x) { ops::sigmoid_forward(rec, y, x[0]); };
  s.backward = [](Recorder& rec, const std::vector<Tensor>& dx, const Tensor& dy, const std::vector<Tensor>&,
                  const Tensor& y) { ops::sigmoid_backward(rec, dx[0], dy, y); };
  s.lo = -8;  // far enough into the tails that 1 - y loses digits in float
  s.hi = 8;
  s.atol = 0;
  s.rtol = 3e-6;
  s.grad_atol = 3e-6;
  s.grad_rtol = 1e-6;
  s.in_place = true;
  return s;
}

}  // namespace

TEST_CASE("sigmoid forward and backward over odd shapes") {
  test::check_op(sigmoid_spec(), {{{1}}, {{7}}, {{33}}, {{129}}, {{1000}}, {{37, 29}}});
}

TEST_CASE("sigmoid at the edges: 0, -0, large |x|, infinities and NaN") {
  // By hand: σ(±0) = 1/2 and σ'(0) = 1/4; from x = 17.33 on, 1 / (1 + e^-x) rounds to 1 in float, so σ = 1 and
  // σ' = y (1 - y) = 0 there, and σ = 0 far below (e^-1000 underflows); ±inf likewise; NaN stays NaN. No
  // exponential may overflow on the way (e^x / (1 + e^x) at x = 1000 would be inf / inf = NaN).
  const std::vector<float> xs = {0.0f, -0.0f, 20.0f, 88.0f, 1000.0f, -1000.0f, k_inf, -k_inf, k_nan};
  const std::vector<float> dy(xs.size(), 3.0f);
  const std::vector<float> want_y = {0.5f, 0.5f, 1.0f, 1.0f, 1.0f, 0.0f, 1.0f, 0.0f, k_nan};
  const std::vector<float> want_dx = {0.75f, 0.75f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, k_nan};
  const Shape shape{int64_t(xs.size())};
  const test::OpValues reference = test::reference_op(sigmoid_spec(), {shape}, {xs}, dy);  // double, rounded
  test::expect_same(reference.y, want_y, "reference sigmoid forward at the edges");
  std::vector<float> ref_dx(xs.size());  // in float, as the GPU: from y rounded to float, 1 - y is exact
  ref::sigmoid_backward(ref_dx.data(), dy.data(), want_y.data(), int(xs.size()));
  test::expect_same(ref_dx, want_dx, "reference sigmoid backward (in float) at the edges");

  const test::OpValues got = test::run_op(sigmoid_spec(), {shape}, {xs}, dy);
  test::expect_same(got.y, want_y, "sigmoid forward at the edges");
  test::expect_same(got.dx.at(0), want_dx, "sigmoid backward at the edges");

  // Deep in the tails the values need exp's accuracy: σ(-20) = 2.1e-9 (rtol 1e-5: exp may be 43 ULP off at
  // |x| = 20), σ(-88) = 6.1e-39, a float denormal that a device may flush to 0 (atol FLT_MIN).
  const std::vector<float> tails = {-20.0f, -88.0f, 15.0f, -15.0f};
  const std::vector<float> ones(tails.size(), 1.0f);
  const test::OpValues tail_want = test::reference_op(sigmoid_spec(), {{4}}, {tails}, ones);
  const test::OpValues tail_got = test::run_op(sigmoid_spec(), {{4}}, {tails}, ones);
  test::expect_close(tail_got.y, tail_want.y, std::numeric_limits<float>::min(), 1e-5, "sigmoid forward in the tails");
  // 1 - y at y = σ(15) = 1 - 3.1e-7 keeps only about two digits in float: an absolute tolerance.
  test::expect_close(tail_got.dx.at(0), tail_want.dx.at(0), 1e-7, 0, "sigmoid backward in the tails");
}

TEST_CASE("sigmoid rejects tensors that do not match and records nothing for empty ones") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  Tensor a = make_tensor(arena, {4, 8}, DType::f32, "a"), b = make_tensor(arena, {8, 4}, DType::f32, "b");
  Tensor c = make_tensor(arena, {4, 8}, DType::f32, "c");
  Tensor ints = make_tensor(arena, {4, 8}, DType::i32, "ints");
  Recorder rec(ctx);
  CHECK_THROWS_WITH(ops::sigmoid_forward(rec, b, a),
                    Contains("sigmoid_forward") && Contains("(4, 8)") && Contains("(8, 4)"));
  CHECK_THROWS_AS(ops::sigmoid_backward(rec, c, a, b), ShapeError);
  CHECK_THROWS_WITH(ops::sigmoid_backward(rec, c, a, b), Contains("sigmoid_backward") && Contains("'b'"));
  CHECK_THROWS_WITH(ops::sigmoid_forward(rec, ints, a), Contains("'ints' is i32, expected f32"));
  CHECK_THROWS_AS(ops::sigmoid_backward(rec, c, ints, a), ArgumentError);
  // A partial overlap (y starts one element into x) would read elements already overwritten.
  Tensor shifted{a.slice.sub(4, a.bytes() - 4), {31}, DType::f32, "shifted"};
  Tensor head{a.slice.sub(0, a.bytes() - 4), {31}, DType::f32, "head"};
  CHECK_THROWS_WITH(ops::sigmoid_forward(rec, shifted, head), Contains("partially overlap"));
  CHECK_THROWS_AS(ops::sigmoid_backward(rec, shifted, head, head), ArgumentError);
  CHECK(rec.dispatch_count() == 0);
  Tensor empty = make_tensor(arena, {0, 8}, DType::f32, "empty");
  ops::sigmoid_forward(rec, empty, empty);
  ops::sigmoid_backward(rec, empty, empty, empty);
  CHECK(rec.dispatch_count() == 0);
}

TEST_CASE("Sigmoid prints as PyTorch prints it") {
  CHECK(Sigmoid().describe() == "Sigmoid()");
  const Sequential net{Linear(16, 32), Sigmoid()};
  CHECK_THAT(net.describe(), Contains("(1): Sigmoid()\n"));
}

TEST_CASE("a model with a Sigmoid layer trains") {
  const test::SyntheticRun run = test::train_synthetic(Sequential{Linear(16, 32), Sigmoid(), Linear(32, 4)}, 4);
  CHECK(run.last_loss < run.first_loss);
  CHECK(run.first_weight_change > 0);  // the gradient reached the first layer through the sigmoid
}

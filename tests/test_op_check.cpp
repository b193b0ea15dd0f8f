// check_op (tests/op_check.hpp) on the ops that exist, and the check itself: its finite differences must catch
// a reference backward that is wrong, and what a kernel leaves unwritten must show.
//
// ReLU is a select, so GPU and reference agree exactly (tolerance 0), and its inputs stay 1e-3 from the kink,
// ten times the difference step. bias_backward, read as the op db = Σ_rows dy, sums in f32 on the GPU and in
// double on the CPU: with dy in [-1, 1] and at most 1000 rows the rounding stays far below atol 1e-4.
#include "op_check.hpp"

#include <vkdrop/ops/elementwise.hpp>
#include <vkdrop/reference/linear.hpp>
#include <vkdrop/reference/relu.hpp>

#include <cmath>
#include <vector>

using namespace vkdrop;
using Catch::Matchers::Contains;
using test::Values;

namespace {

test::OpSpec relu_spec() {
  test::OpSpec s;
  s.name = "relu";
  s.reference_forward = [](const std::vector<Values>& x, const std::vector<Shape>&) {
    Values y(x[0].size());
    ref::relu_forward(y.data(), x[0].data(), int(y.size()));
    return y;
  };
  s.reference_backward = [](const std::vector<Values>& x, const Values&, const Values& dy, const std::vector<Shape>&) {
    Values dx(x[0].size());
    ref::relu_backward(dx.data(), dy.data(), x[0].data(), int(dx.size()));
    return std::vector<Values>{dx};
  };
  s.forward = [](Recorder& rec, const Tensor& y, const std::vector<Tensor>& x) { ops::relu_forward(rec, y, x[0]); };
  // ReLU's backward reads the forward's output, not its input.
  s.backward = [](Recorder& rec, const std::vector<Tensor>& dx, const Tensor& dy, const std::vector<Tensor>&,
                  const Tensor& y) { ops::relu_backward(rec, dx[0], dy, y); };
  s.avoid = 1e-3f;
  s.atol = s.rtol = s.grad_atol = s.grad_rtol = 0;
  s.in_place = true;
  return s;
}

// bias_backward as an op of its own: db (N) = Σ_rows dy (M, N). Its gradient broadcasts back over the rows;
// there is no GPU kernel for that, so only the reference's is checked (by finite differences).
test::OpSpec column_sum_spec() {
  test::OpSpec s;
  s.name = "bias_backward";
  s.inputs = {"dy"};
  s.output_shape = [](const std::vector<Shape>& shapes) { return Shape{shapes[0].at(1)}; };
  s.reference_forward = [](const std::vector<Values>& x, const std::vector<Shape>& shapes) {
    const int rows = int(shapes[0][0]), cols = int(shapes[0][1]);
    Values db(static_cast<size_t>(cols));
    ref::linear_backward<double>(nullptr, nullptr, db.data(), x[0].data(), nullptr, nullptr, rows, 0, cols);
    return db;
  };
  s.reference_backward = [](const std::vector<Values>& x, const Values&, const Values& g, const std::vector<Shape>&) {
    Values d(x[0].size());
    for (size_t i = 0; i < d.size(); ++i) d[i] = g[i % g.size()];
    return std::vector<Values>{d};
  };
  s.forward = [](Recorder& rec, const Tensor& db, const std::vector<Tensor>& dy) { ops::bias_backward(rec, db, dy[0]); };
  s.lo = -1;
  s.hi = 1;
  s.atol = 1e-4;
  s.fd_elements = 256;  // each difference sums all of dy: 256 per case keep the largest case fast
  return s;
}

// y = x³ on the CPU only, with a correct or a wrong gradient, for checking the check.
test::OpSpec cube_spec(double factor) {
  test::OpSpec s;
  s.name = "cube";
  s.reference_forward = [](const std::vector<Values>& x, const std::vector<Shape>&) {
    Values y(x[0].size());
    for (size_t i = 0; i < y.size(); ++i) y[i] = x[0][i] * x[0][i] * x[0][i];
    return y;
  };
  s.reference_backward = [factor](const std::vector<Values>& x, const Values&, const Values& dy,
                                  const std::vector<Shape>&) {
    Values dx(x[0].size());
    for (size_t i = 0; i < dx.size(); ++i) dx[i] = dy[i] * factor * x[0][i] * x[0][i];
    return std::vector<Values>{dx};
  };
  return s;
}

std::string differences(const test::OpSpec& spec, const Values& x, Values dy = {}) {
  if (dy.empty()) dy = test::to_double(test::random_floats(x.size(), 7));
  return test::finite_difference_mismatches(spec, {{int64_t(x.size())}}, {x}, dy, 8);
}

}  // namespace

TEST_CASE("check_op: relu over odd shapes") {
  test::check_op(relu_spec(), {{{1}}, {{7}}, {{33}}, {{129}}, {{1000}}, {{3, 5, 7}}});
}

TEST_CASE("check_op: bias_backward, an op whose output has another shape and no GPU backward") {
  test::check_op(column_sum_spec(), {{{1, 1}}, {{7, 33}}, {{1000, 129}}, {{1000, 10}}, {{129, 3}}});
}

TEST_CASE("the finite-difference check passes a right gradient and catches wrong ones") {
  const Values x = test::to_double(test::op_input(100, 9, -2, 2, 0));
  CHECK(differences(cube_spec(3), x).empty());
  // The factor 3 dropped, and a gradient 0.1% off: both fail element by element, naming the tensor.
  CHECK_THAT(differences(cube_spec(1), x), Contains("of 100 elements differ") && Contains("dx[0] at x"));
  CHECK_THAT(differences(cube_spec(3.003), x), Contains("elements differ"));
  // With no element differenced on its own, the random direction still catches them.
  test::OpSpec direction_only = cube_spec(3.003);
  direction_only.fd_elements = 0;
  CHECK_THAT(differences(direction_only, x), Contains("along a random direction"));
  direction_only = cube_spec(3);
  direction_only.fd_elements = 0;
  CHECK(differences(direction_only, x).empty());
}

TEST_CASE("the finite-difference check needs `avoid` at a kink") {
  // ReLU's reference is right, but at x = 5e-5 the central difference straddles the kink: (1.5e-4 - 0) / 2e-4 =
  // 0.75, not 1. check_op keeps inputs `avoid` (1e-3 for relu) from 0 so that this cannot happen.
  test::OpSpec relu = relu_spec();
  CHECK_THAT(differences(relu, {5e-5}, {1}), Contains("central difference 0.75"));
  CHECK(differences(relu, {5e-3}, {1}).empty());
  for (float v : test::op_input(1000, 10, -1, 1, relu.avoid)) CHECK(std::abs(v) >= relu.avoid);
}

TEST_CASE("run_op starts y and dx as NaN, so a kernel that writes nothing fails") {
  test::OpSpec lazy = relu_spec();
  lazy.forward = [](Recorder&, const Tensor&, const std::vector<Tensor>&) {};
  lazy.backward = [](Recorder&, const std::vector<Tensor>&, const Tensor&, const std::vector<Tensor>&, const Tensor&) {};
  const test::OpValues got = test::run_op(lazy, {{5}}, {{1, 2, 3, 4, 5}}, {1, 1, 1, 1, 1});
  for (float v : got.y) CHECK(std::isnan(v));
  REQUIRE(got.dx.size() == 1);
  for (float v : got.dx[0]) CHECK(std::isnan(v));
}

// LeakyReLU (ops/leaky_relu.hpp, layers/leaky_relu.hpp) against reference/leaky_relu.hpp.
//
// Tolerance 0, forward and backward: both are selects of one float product, which Vulkan rounds correctly, and
// the double reference's product of two floats is exact, so rounding it to float gives the same bits. The
// reference gets negative_slope as the float the GPU gets. Inputs stay 1e-3 from the kink at 0, ten times the
// difference step.
#include "op_check.hpp"
#include "synthetic.hpp"

#include <vkdrop/layers/leaky_relu.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/ops/leaky_relu.hpp>
#include <vkdrop/reference/leaky_relu.hpp>
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

test::OpSpec leaky_relu_spec(float slope) {
  test::OpSpec s;
  s.name = fmt::format("leaky_relu(negative_slope={})", slope);
  s.reference_forward = [slope](const std::vector<Values>& x, const std::vector<Shape>&) {
    Values y(x[0].size());
    ref::leaky_relu_forward(y.data(), x[0].data(), int(y.size()), double(slope));
    return y;
  };
  s.reference_backward = [slope](const std::vector<Values>& x, const Values&, const Values& dy,
                                 const std::vector<Shape>&) {
    Values dx(x[0].size());
    ref::leaky_relu_backward(dx.data(), dy.data(), x[0].data(), int(dx.size()), double(slope));
    return std::vector<Values>{dx};
  };
  s.forward = [slope](Recorder& rec, const Tensor& y, const std::vector<Tensor>& x) {
    ops::leaky_relu_forward(rec, y, x[0], slope);
  };
  s.backward = [slope](Recorder& rec, const std::vector<Tensor>& dx, const Tensor& dy, const std::vector<Tensor>& x,
                       const Tensor&) { ops::leaky_relu_backward(rec, dx[0], dy, x[0], slope); };
  s.avoid = 1e-3f;
  s.atol = s.rtol = s.grad_atol = s.grad_rtol = 0;
  s.in_place = true;
  return s;
}

}  // namespace

TEST_CASE("leaky_relu forward and backward over odd shapes") {
  test::check_op(leaky_relu_spec(0.01f), {{{1}}, {{7}}, {{33}}, {{129}}, {{1000}}, {{37, 29}}});
  // Other slopes, a negative one and one above 1 included (PyTorch accepts any).
  test::check_op(leaky_relu_spec(0.2f), {{{33}}, {{37, 29}}});
  test::check_op(leaky_relu_spec(-0.5f), {{{33}}, {{37, 29}}});
  test::check_op(leaky_relu_spec(3.0f), {{{33}}, {{37, 29}}});
}

TEST_CASE("leaky_relu at the edges: ±0, tiny and huge x, infinities and NaN") {
  // By hand, as PyTorch computes in float: x > 0 keeps x (and dy); anything else, ±0 and NaN included, is scaled
  // by the slope, so LeakyReLU(-0) = -0, LeakyReLU'(0) = negative_slope, and a NaN input passes slope · dy back.
  const float s = 0.01f;
  const std::vector<float> xs = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e30f, -1e30f, 3e38f, -3e38f, k_inf, -k_inf, k_nan};
  const std::vector<float> dy(xs.size(), 3.0f);
  const std::vector<float> want_y = {0.0f,  -0.0f,     1e-30f,    s * -1e-30f, 1e30f, s * -1e30f,
                                     3e38f, s * -3e38f, k_inf, -k_inf,      k_nan};
  const float g = s * 3.0f;
  const std::vector<float> want_dx = {g, g, 3.0f, g, 3.0f, g, 3.0f, g, 3.0f, g, g};
  const Shape shape{int64_t(xs.size())};
  const test::OpValues reference = test::reference_op(leaky_relu_spec(s), {shape}, {xs}, dy);
  test::expect_same(reference.y, want_y, "reference leaky_relu forward at the edges");
  test::expect_same(reference.dx.at(0), want_dx, "reference leaky_relu backward at the edges");
  const test::OpValues got = test::run_op(leaky_relu_spec(s), {shape}, {xs}, dy);
  test::expect_same(got.y, want_y, "leaky_relu forward at the edges");
  test::expect_same(got.dx.at(0), want_dx, "leaky_relu backward at the edges");
}

TEST_CASE("leaky_relu rejects bad arguments and records nothing for empty tensors") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  Tensor a = make_tensor(arena, {4, 8}, DType::f32, "a"), b = make_tensor(arena, {8, 4}, DType::f32, "b");
  Tensor c = make_tensor(arena, {4, 8}, DType::f32, "c");
  Tensor ints = make_tensor(arena, {4, 8}, DType::i32, "ints");
  Recorder rec(ctx);
  CHECK_THROWS_WITH(ops::leaky_relu_forward(rec, b, a, 0.01f),
                    Contains("leaky_relu_forward") && Contains("(4, 8)") && Contains("(8, 4)"));
  CHECK_THROWS_AS(ops::leaky_relu_backward(rec, c, a, b, 0.01f), ShapeError);
  CHECK_THROWS_WITH(ops::leaky_relu_backward(rec, c, a, b, 0.01f), Contains("leaky_relu_backward") && Contains("'b'"));
  CHECK_THROWS_WITH(ops::leaky_relu_forward(rec, ints, a, 0.01f), Contains("'ints' is i32, expected f32"));
  CHECK_THROWS_AS(ops::leaky_relu_backward(rec, c, ints, a, 0.01f), ArgumentError);
  // A partial overlap (y starts one element into x) would read elements already overwritten.
  Tensor shifted{a.slice.sub(4, a.bytes() - 4), {31}, DType::f32, "shifted"};
  Tensor head{a.slice.sub(0, a.bytes() - 4), {31}, DType::f32, "head"};
  CHECK_THROWS_WITH(ops::leaky_relu_forward(rec, shifted, head, 0.01f), Contains("partially overlap"));
  CHECK_THROWS_AS(ops::leaky_relu_backward(rec, shifted, head, head, 0.01f), ArgumentError);
  // The slope must be finite.
  CHECK_THROWS_WITH(ops::leaky_relu_forward(rec, c, a, k_nan), Contains("leaky_relu_forward: invalid negative_slope = nan"));
  CHECK_THROWS_AS(ops::leaky_relu_backward(rec, c, a, a, -k_inf), ArgumentError);
  CHECK_THROWS_WITH(LeakyReLU(k_inf), Contains("LeakyReLU: invalid negative_slope = inf"));
  CHECK_THROWS_AS(LeakyReLU(std::nan("")), ArgumentError);
  CHECK_THROWS_AS(LeakyReLU(1e39), ArgumentError);  // finite as a double, inf as the float the GPU would get
  CHECK(rec.dispatch_count() == 0);
  Tensor empty = make_tensor(arena, {0, 8}, DType::f32, "empty");
  ops::leaky_relu_forward(rec, empty, empty, 0.01f);
  ops::leaky_relu_backward(rec, empty, empty, empty, 0.01f);
  CHECK(rec.dispatch_count() == 0);
}

TEST_CASE("LeakyReLU prints as PyTorch prints it") {
  // Python's float repr: 1.0 and 100.0 keep their ".0", 1e-05 its exponent.
  CHECK(LeakyReLU().describe() == "LeakyReLU(negative_slope=0.01)");
  CHECK(LeakyReLU(0.2).describe() == "LeakyReLU(negative_slope=0.2)");
  CHECK(LeakyReLU(1).describe() == "LeakyReLU(negative_slope=1.0)");
  CHECK(LeakyReLU(100).describe() == "LeakyReLU(negative_slope=100.0)");
  CHECK(LeakyReLU(-0.5).describe() == "LeakyReLU(negative_slope=-0.5)");
  CHECK(LeakyReLU(1e-5).describe() == "LeakyReLU(negative_slope=1e-05)");
  CHECK(LeakyReLU(0).describe() == "LeakyReLU(negative_slope=0.0)");
  const Sequential net{Linear(16, 32), LeakyReLU()};
  CHECK_THAT(net.describe(), Contains("(1): LeakyReLU(negative_slope=0.01)\n"));
}

TEST_CASE("a model with a LeakyReLU layer trains") {
  const test::SyntheticRun run = test::train_synthetic(Sequential{Linear(16, 32), LeakyReLU(), Linear(32, 4)}, 4);
  CHECK(run.last_loss < run.first_loss);
  CHECK(run.first_weight_change > 0);  // the gradient reached the first layer through the leaky_relu
}

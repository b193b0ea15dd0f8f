// AvgPool2d (ops/avg_pool2d.hpp, layers/avg_pool2d.hpp) against reference/avg_pool2d.hpp.
//
// Tolerances, GPU (float) against the reference (double), from the float rounding bound; the GPU adds in the
// reference's order. Forward: a window of n = kh·kw inputs with |x| <= 3 is summed in n − 1 additions, each
// within half an ULP of a partial sum below 3n; dividing by n divides that error, and Vulkan's division adds at
// most 2.5 ULP of |y| <= 3 (forward_atol below: 1.5e-6 for 3 × 3, 4.3e-6 for the 35-element window). Backward:
// an element takes at most t <= n terms dy / n with |dy| <= 1, each within 2.5 ULP of a value below 1/n, and
// t − 1 additions within half an ULP of a partial sum below t/n <= 1: under 1e-6 for every window here.
// Average pooling is linear, so the finite differences are exact up to rounding (default step and tolerance).
#include "op_check.hpp"
#include "synthetic_images.hpp"

#include <vkdrop/layers/avg_pool2d.hpp>
#include <vkdrop/layers/flatten.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/relu.hpp>
#include <vkdrop/ops/avg_pool2d.hpp>
#include <vkdrop/reference/avg_pool2d.hpp>
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

ref::Pool2dWindow square(int64_t kernel, int64_t stride, int64_t pad) { return {kernel, kernel, stride, stride, pad, pad}; }

struct Planes {
  int64_t planes, H, W;
};
Planes planes_of(const Shape& s) {
  const size_t r = s.size();
  return {element_count(s) / (s[r - 2] * s[r - 1]), s[r - 2], s[r - 1]};
}

Shape pooled(const Shape& s, const ref::Pool2dWindow& w) {
  Shape out = s;
  const size_t r = s.size();
  out[r - 2] = ref::pool_output_size(s[r - 2], w.kernel_h, w.stride_h, w.pad_h);
  out[r - 1] = ref::pool_output_size(s[r - 1], w.kernel_w, w.stride_w, w.pad_w);
  return out;
}

// Half an ULP of a float of magnitude below `v`.
double half_ulp_below(double v) { return std::ldexp(1.0, std::ilogb(v) - 24); }

// The forward's rounding bound for inputs in [-3, 3] (see the top of this file).
double forward_atol(const ref::Pool2dWindow& w) {
  const double n = double(w.kernel_h * w.kernel_w);
  return (n - 1) * half_ulp_below(3 * n) / n + 2.5 * 2 * half_ulp_below(3);
}

test::OpSpec avg_pool_spec(const ref::Pool2dWindow& w) {
  test::OpSpec s;
  s.name = fmt::format("avg_pool2d({}×{}, stride ({}, {}), padding ({}, {}))", w.kernel_h, w.kernel_w, w.stride_h,
                       w.stride_w, w.pad_h, w.pad_w);
  s.output_shape = [w](const std::vector<Shape>& shapes) { return pooled(shapes[0], w); };
  s.reference_forward = [w](const std::vector<Values>& x, const std::vector<Shape>& shapes) {
    const Planes p = planes_of(shapes[0]);
    Values y(static_cast<size_t>(element_count(pooled(shapes[0], w))));
    ref::avg_pool2d_forward(y.data(), x[0].data(), p.planes, p.H, p.W, w);
    return y;
  };
  s.reference_backward = [w](const std::vector<Values>& x, const Values&, const Values& dy,
                             const std::vector<Shape>& shapes) {
    const Planes p = planes_of(shapes[0]);
    Values dx(x[0].size());
    ref::avg_pool2d_backward(dx.data(), dy.data(), p.planes, p.H, p.W, w);
    return std::vector<Values>{dx};
  };
  s.forward = [w](Recorder& rec, const Tensor& y, const std::vector<Tensor>& x) { ops::avg_pool2d_forward(rec, y, x[0], w); };
  s.backward = [w](Recorder& rec, const std::vector<Tensor>& dx, const Tensor& dy, const std::vector<Tensor>&,
                   const Tensor&) { ops::avg_pool2d_backward(rec, dx[0], dy, w); };
  s.atol = forward_atol(w);
  s.rtol = 0;
  s.grad_atol = 1e-6;
  s.grad_rtol = 0;
  return s;
}

// x through the GPU op: y, and dx for dy.
std::pair<std::vector<float>, std::vector<float>> run_avg_pool(const Shape& shape, const ref::Pool2dWindow& w,
                                                               const std::vector<float>& x, const std::vector<float>& dy) {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  const Shape out = pooled(shape, w);
  Tensor xt = make_tensor(arena, shape, DType::f32, "x"), dxt = make_tensor(arena, shape, DType::f32, "dx");
  Tensor yt = make_tensor(arena, out, DType::f32, "y"), dyt = make_tensor(arena, out, DType::f32, "dy");
  upload(ctx, xt, std::span<const float>(x));
  upload(ctx, dyt, std::span<const float>(dy));
  Recorder rec(ctx);
  ops::avg_pool2d_forward(rec, yt, xt, w);
  ops::avg_pool2d_backward(rec, dxt, dyt, w);
  rec.run();
  return {download_f32(ctx, yt), download_f32(ctx, dxt)};
}

// The GPU and the float reference against values worked out by hand, exactly.
void expect_edges(const std::string& what, const Shape& shape, const ref::Pool2dWindow& w, const std::vector<float>& x,
                  const std::vector<float>& dy, const std::vector<float>& want_y, const std::vector<float>& want_dx) {
  const Planes p = planes_of(shape);
  std::vector<float> ry(want_y.size()), rdx(x.size());
  ref::avg_pool2d_forward(ry.data(), x.data(), p.planes, p.H, p.W, w);
  ref::avg_pool2d_backward(rdx.data(), dy.data(), p.planes, p.H, p.W, w);
  test::expect_same(ry, want_y, "reference avg_pool2d " + what + ": y");
  test::expect_same(rdx, want_dx, "reference avg_pool2d " + what + ": dx");
  const auto [y, dx] = run_avg_pool(shape, w, x, dy);
  test::expect_same(y, want_y, "avg_pool2d " + what + ": y");
  test::expect_same(dx, want_dx, "avg_pool2d " + what + ": dx");
}

}  // namespace

TEST_CASE("avg_pool2d forward and backward over odd shapes") {
  test::check_op(avg_pool_spec(square(2, 2, 0)),
                 {{{1, 1, 4, 4}}, {{1, 3, 5, 7}}, {{33, 3, 5, 7}}, {{2, 17, 6, 9}}, {{3, 5, 7}}});
  test::check_op(avg_pool_spec(square(3, 1, 1)), {{{1, 1, 5, 7}}, {{33, 3, 5, 7}}, {{2, 17, 3, 3}}});
  test::check_op(avg_pool_spec(square(3, 2, 1)), {{{1, 17, 7, 5}}, {{33, 1, 5, 7}}});
  test::check_op(avg_pool_spec({3, 2, 1, 2, 1, 1}), {{{3, 2, 5, 7}}, {{1, 1, 1, 1}}});
  test::check_op(avg_pool_spec({5, 7, 1, 1, 0, 0}), {{{33, 3, 5, 7}}});
  test::check_op(avg_pool_spec(square(1, 1, 0)), {{{1, 3, 5, 7}}});
}

TEST_CASE("avg_pool2d at the edges: padding counts in the divisor, uncovered elements, infinities and NaN") {
  // count_include_pad=True: a plane of ones, kernel 2, stride 1, padding 1. A corner window holds one element and
  // three zeros of padding, so it averages to 1/4, an edge window to 2/4, the middle to 1; each element lies in
  // four windows, so with dy = 1 its gradient is 4 · 1/4 = 1. All exact in float.
  expect_edges("padding", {1, 1, 2, 2}, square(2, 1, 1), {1, 1, 1, 1}, std::vector<float>(9, 1.0f),
               {0.25f, 0.5f, 0.25f, 0.5f, 1, 0.5f, 0.25f, 0.5f, 0.25f}, {1, 1, 1, 1});
  // Stride 2 over 3 × 3 leaves the last row and column out of every window: their gradient is +0.
  expect_edges("uncovered elements", {1, 1, 3, 3}, square(2, 2, 0), {1, 2, 0, 3, 6, 0, 0, 0, 0}, {8}, {3}, {2, 2, 0, 2, 2, 0, 0, 0, 0});
  // An infinity makes its windows infinite; inf and -inf together, or a NaN, make NaN. dy is spread regardless.
  expect_edges("infinities and NaN", {1, 1, 2, 6}, square(2, 2, 0), {k_inf, 1, -k_inf, k_inf, k_nan, 1, 1, 1, 1, 1, 1, 1},
               {4, 8, -4}, {k_inf, k_nan, k_nan}, {1, 1, 2, 2, -1, -1, 1, 1, 2, 2, -1, -1});
}

TEST_CASE("avg_pool2d rejects bad arguments and records nothing for empty tensors") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  Tensor x = make_tensor(arena, {2, 3, 5, 7}, DType::f32, "x"), y = make_tensor(arena, {2, 3, 2, 3}, DType::f32, "y");
  Tensor wrong_y = make_tensor(arena, {2, 3, 3, 3}, DType::f32, "wrong y");
  Tensor int_y = make_tensor(arena, {2, 3, 2, 3}, DType::i32, "int y");
  Tensor flat = make_tensor(arena, {6, 35}, DType::f32, "flat");
  const ref::Pool2dWindow two = square(2, 2, 0);
  Recorder rec(ctx);
  CHECK_THROWS_WITH(ops::avg_pool2d_forward(rec, wrong_y, x, two),
                    Contains("avg_pool2d_forward: y 'wrong y' has shape (2, 3, 3, 3), expected (2, 3, 2, 3)"));
  CHECK_THROWS_WITH(ops::avg_pool2d_forward(rec, int_y, x, two), Contains("'int y' is i32, expected f32"));
  CHECK_THROWS_AS(ops::avg_pool2d_forward(rec, y, flat, two), ShapeError);
  CHECK_THROWS_WITH(ops::avg_pool2d_forward(rec, y, x, square(0, 1, 0)), Contains("avg_pool2d_forward: invalid kernel_h = 0"));
  CHECK_THROWS_WITH(ops::avg_pool2d_forward(rec, y, x, square(2, 0, 0)), Contains("invalid stride_h = 0"));
  CHECK_THROWS_WITH(ops::avg_pool2d_forward(rec, y, x, square(2, 2, 2)), Contains("invalid pad_h = 2"));
  CHECK_THROWS_WITH(ops::avg_pool2d_forward(rec, y, x, {2, 8, 2, 2, 0, 0}), Contains("invalid kernel_w = 8"));
  Tensor y_over_x{x.slice.sub(0, y.bytes()), y.shape, DType::f32, "y over x"};
  CHECK_THROWS_WITH(ops::avg_pool2d_forward(rec, y_over_x, x, two), Contains("overlaps"));
  CHECK_THROWS_WITH(ops::avg_pool2d_backward(rec, x, wrong_y, two), Contains("avg_pool2d_backward: dy 'wrong y'"));
  CHECK_THROWS_AS(ops::avg_pool2d_backward(rec, x, y_over_x, two), ArgumentError);
  CHECK(rec.dispatch_count() == 0);
  Tensor empty = make_tensor(arena, {0, 3, 5, 7}, DType::f32, "empty"), empty_y = make_tensor(arena, {0, 3, 2, 3}, DType::f32, "ey");
  ops::avg_pool2d_forward(rec, empty_y, empty, two);
  ops::avg_pool2d_backward(rec, empty, empty_y, two);
  CHECK(rec.dispatch_count() == 0);
}

TEST_CASE("AvgPool2d: PyTorch's printout, its shapes, and bad configurations refused when built") {
  CHECK(AvgPool2d(2).describe() == "AvgPool2d(kernel_size=2, stride=2, padding=0)");
  CHECK(AvgPool2d(3, 1, 1).describe() == "AvgPool2d(kernel_size=3, stride=1, padding=1)");
  CHECK(AvgPool2d(2).output_shape({8, 3, 5, 7}) == Shape{8, 3, 2, 3});
  CHECK(AvgPool2d(3, 2, 1).output_shape({8, 3, 5, 7}) == Shape{8, 3, 3, 4});
  CHECK(AvgPool2d(2).buffers({8, 3, 5, 7}).empty());  // backward needs nothing from the forward
  CHECK_THROWS_WITH(AvgPool2d(0), Contains("AvgPool2d: invalid kernel_size = 0"));
  CHECK_THROWS_WITH(AvgPool2d(2, 0), Contains("AvgPool2d: invalid stride = 0"));
  CHECK_THROWS_WITH(AvgPool2d(2, 1, 2), Contains("AvgPool2d: invalid padding = 2"));
  CHECK_THROWS_WITH(AvgPool2d(2).output_shape({8, 35}), Contains("AvgPool2d(kernel_size=2, stride=2, padding=0) expects"));
  CHECK_THROWS_WITH(AvgPool2d(8).output_shape({8, 3, 5, 7}), Contains("AvgPool2d(kernel_size=8") && Contains("(8, 3, 5, 7)"));
  Context& ctx = test::context();
  CHECK_THROWS_WITH(Model(ctx, Sequential{AvgPool2d(5), Flatten(), Linear(16, 4)}, {1, 4, 4}, test::synthetic_images_config()),
                    Contains("layer 0 AvgPool2d(kernel_size=5") && Contains("(16, 1, 4, 4)"));
}

TEST_CASE("a model with an AvgPool2d layer trains, and its gradient reaches the layer below") {
  const Sequential net{Linear(4, 8), ReLU(), AvgPool2d(2), Flatten(), Linear(8, 4)};
  const test::SyntheticRun run = test::train_synthetic_images(net, 4);
  CHECK(run.last_loss < run.first_loss);
  CHECK(run.first_weight_change > 0);
}

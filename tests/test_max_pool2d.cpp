// MaxPool2d (ops/max_pool2d.hpp, layers/max_pool2d.hpp) against reference/max_pool2d.hpp.
//
// Tolerances. Forward: 0. The kernel selects an element, so y is the reference's bit for bit, and so is argmax
// (compared as integers). Backward: atol 5e-6, rtol 0. An element's gradient is the sum of at most
// ceil(k/s)² dy in [-1, 1] (9 here), added in the reference's order, but in float: each of the 8 additions
// rounds by at most half an ULP of a partial sum below 9 (4.8e-7), 3.8e-6 in all, plus the reference's own
// rounding to float. Without overlapping windows each element takes at most one dy and the backward is exact.
//
// Finite differences: max pooling is piecewise linear, so central differences are exact away from the points
// where a window changes its choice. The step 5e-8 moves two inputs at most 1e-7 towards each other, less than
// the smallest gap between two distinct floats drawn in [-3, 3] (the float spacing near 3, 2.4e-7), so no step
// changes a choice. fd_tol 1e-3 absorbs the double rounding of the loss sums divided by that small step (about
// 1e-5) and stays far below a gradient sent to the wrong element (|dy|, typically 0.5).
#include "op_check.hpp"
#include "synthetic_images.hpp"

#include <vkdrop/layers/flatten.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/max_pool2d.hpp>
#include <vkdrop/layers/relu.hpp>
#include <vkdrop/ops/max_pool2d.hpp>
#include <vkdrop/reference/max_pool2d.hpp>
#include <vkdrop/runtime/error.hpp>

#include <limits>
#include <memory>
#include <vector>

using namespace vkdrop;
using Catch::Matchers::Contains;
using test::Values;

namespace {

constexpr float k_inf = std::numeric_limits<float>::infinity();
constexpr float k_nan = std::numeric_limits<float>::quiet_NaN();

ref::Pool2dWindow square(int64_t kernel, int64_t stride, int64_t pad) { return {kernel, kernel, stride, stride, pad, pad}; }

// Planes, H and W of an (N, C, H, W) or (C, H, W) shape.
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

// The reference on double inputs: y and argmax.
std::pair<Values, std::vector<uint32_t>> reference_forward(const Values& x, const Shape& shape, const ref::Pool2dWindow& w) {
  const Planes p = planes_of(shape);
  const size_t n = static_cast<size_t>(element_count(pooled(shape, w)));
  Values y(n);
  std::vector<uint32_t> argmax(n);
  ref::max_pool2d_forward(y.data(), argmax.data(), x.data(), p.planes, p.H, p.W, w);
  return {y, argmax};
}

// The GPU forward keeps its argmax here for the GPU backward of the same case (check_op records both together).
struct Saved {
  std::unique_ptr<Arena> arena;
  Tensor argmax;
};

test::OpSpec max_pool_spec(const ref::Pool2dWindow& w) {
  test::OpSpec s;
  s.name = fmt::format("max_pool2d({}×{}, stride ({}, {}), padding ({}, {}))", w.kernel_h, w.kernel_w, w.stride_h,
                       w.stride_w, w.pad_h, w.pad_w);
  s.output_shape = [w](const std::vector<Shape>& shapes) { return pooled(shapes[0], w); };
  s.reference_forward = [w](const std::vector<Values>& x, const std::vector<Shape>& shapes) {
    return reference_forward(x[0], shapes[0], w).first;
  };
  s.reference_backward = [w](const std::vector<Values>& x, const Values&, const Values& dy,
                             const std::vector<Shape>& shapes) {
    const Planes p = planes_of(shapes[0]);
    const std::vector<uint32_t> argmax = reference_forward(x[0], shapes[0], w).second;
    Values dx(x[0].size());
    ref::max_pool2d_backward(dx.data(), dy.data(), argmax.data(), p.planes, p.H, p.W, w);
    return std::vector<Values>{dx};
  };
  auto saved = std::make_shared<Saved>();
  s.forward = [w, saved](Recorder& rec, const Tensor& y, const std::vector<Tensor>& x) {
    if (!saved->arena) saved->arena = std::make_unique<Arena>(rec.context(), 1 << 20);
    saved->argmax = make_tensor(*saved->arena, y.shape, DType::u32, "argmax");
    ops::max_pool2d_forward(rec, y, saved->argmax, x[0], w);
  };
  s.backward = [w, saved](Recorder& rec, const std::vector<Tensor>& dx, const Tensor& dy, const std::vector<Tensor>&,
                          const Tensor&) { ops::max_pool2d_backward(rec, dx[0], dy, saved->argmax, w); };
  s.atol = s.rtol = 0;
  s.grad_atol = 5e-6;
  s.grad_rtol = 0;
  s.fd_eps = 5e-8;
  s.fd_tol = 1e-3;
  return s;
}

// x of `shape` through the GPU op: y, argmax and dx for dy.
struct Pooled {
  std::vector<float> y, dx;
  std::vector<uint32_t> argmax;
};
Pooled run_max_pool(const Shape& shape, const ref::Pool2dWindow& w, const std::vector<float>& x, const std::vector<float>& dy) {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  const Shape out = pooled(shape, w);
  Tensor xt = make_tensor(arena, shape, DType::f32, "x"), dxt = make_tensor(arena, shape, DType::f32, "dx");
  Tensor yt = make_tensor(arena, out, DType::f32, "y"), dyt = make_tensor(arena, out, DType::f32, "dy");
  Tensor argmax = make_tensor(arena, out, DType::u32, "argmax");
  upload(ctx, xt, std::span<const float>(x));
  upload(ctx, dyt, std::span<const float>(dy));
  Recorder rec(ctx);
  ops::max_pool2d_forward(rec, yt, argmax, xt, w);
  ops::max_pool2d_backward(rec, dxt, dyt, argmax, w);
  rec.run();
  return {download_f32(ctx, yt), download_f32(ctx, dxt), download_u32(ctx, argmax)};
}

// The reference in float on the same values, for the edge cases.
Pooled reference_max_pool(const Shape& shape, const ref::Pool2dWindow& w, const std::vector<float>& x,
                          const std::vector<float>& dy) {
  const Planes p = planes_of(shape);
  Pooled r{std::vector<float>(dy.size()), std::vector<float>(x.size()), std::vector<uint32_t>(dy.size())};
  ref::max_pool2d_forward(r.y.data(), r.argmax.data(), x.data(), p.planes, p.H, p.W, w);
  ref::max_pool2d_backward(r.dx.data(), dy.data(), r.argmax.data(), p.planes, p.H, p.W, w);
  return r;
}

// The GPU and the reference both against values worked out by hand.
void expect_edges(const std::string& what, const Shape& shape, const ref::Pool2dWindow& w, const std::vector<float>& x,
                  const std::vector<float>& dy, const std::vector<float>& want_y, const std::vector<uint32_t>& want_argmax,
                  const std::vector<float>& want_dx) {
  INFO(what);
  for (const bool gpu : {false, true}) {
    const Pooled got = gpu ? run_max_pool(shape, w, x, dy) : reference_max_pool(shape, w, x, dy);
    const std::string who = std::string(gpu ? "max_pool2d " : "reference max_pool2d ") + what;
    test::expect_same(got.y, want_y, who + ": y");
    CHECK(got.argmax == want_argmax);
    test::expect_same(got.dx, want_dx, who + ": dx");
  }
}

}  // namespace

TEST_CASE("max_pool2d forward and backward over odd shapes") {
  // The default window (kernel 2, stride 2): odd H and W leave the last row and column out; batch 1 and 33,
  // channels 1, 3 and 17.
  test::check_op(max_pool_spec(square(2, 2, 0)),
                 {{{1, 1, 4, 4}}, {{1, 3, 5, 7}}, {{33, 3, 5, 7}}, {{2, 17, 6, 9}}, {{3, 5, 7}}});
  // Windows that tile the input exactly (backward writes each window from its output instead of gathering).
  test::check_op(max_pool_spec(square(2, 2, 0)), {{{33, 3, 6, 8}}, {{1, 17, 2, 2}}});
  test::check_op(max_pool_spec(square(3, 3, 0)), {{{2, 3, 9, 6}}});
  // Overlapping windows with padding: one element can be the maximum of up to nine outputs.
  test::check_op(max_pool_spec(square(3, 1, 1)), {{{1, 1, 5, 7}}, {{33, 3, 5, 7}}, {{2, 17, 3, 3}}});
  test::check_op(max_pool_spec(square(3, 2, 1)), {{{1, 17, 7, 5}}, {{33, 1, 5, 7}}});
  // A rectangular window with different strides and paddings per dimension (the op takes it; the layer is square).
  test::check_op(max_pool_spec({3, 2, 1, 2, 1, 1}), {{{3, 2, 5, 7}}, {{1, 1, 1, 1}}});
  // The whole plane in one window (kernel = input), and kernel 1 (the identity).
  test::check_op(max_pool_spec({5, 7, 1, 1, 0, 0}), {{{33, 3, 5, 7}}});
  test::check_op(max_pool_spec(square(1, 1, 0)), {{{1, 3, 5, 7}}});
}

TEST_CASE("max_pool2d at the edges: ties, -0, -inf, NaN, padding, and gradients that add up") {
  const ref::Pool2dWindow two = square(2, 2, 0);
  // Ties go to the first maximum in row-major window order: the all-equal window takes its top-left element, the
  // window {2, 2 / 1, 2} its first 2, and +0 does not beat -0 (they compare equal), so y keeps -0's bits.
  // x (1, 1, 2, 6): windows {1, 1 / 1, 1}, {2, 2 / 1, 2}, {-0, +0 / +0, -0}.
  expect_edges("ties", {1, 1, 2, 6}, two, {1, 1, 2, 2, -0.0f, 0.0f, 1, 1, 1, 2, 0.0f, -0.0f}, {3, 5, 7},
               {1, 2, -0.0f}, {0, 2, 4}, {3, 0, 5, 0, 7, 0, 0, 0, 0, 0, 0, 0});
  // -inf everywhere: y = -inf and the gradient goes to the window's first element. inf wins like any maximum.
  expect_edges("infinities", {1, 1, 2, 4}, two, {-k_inf, -k_inf, -k_inf, 1, -k_inf, -k_inf, k_inf, -k_inf}, {3, 5},
               {-k_inf, k_inf}, {0, 6}, {3, 0, 0, 0, 0, 0, 5, 0});
  // NaN propagates, as in PyTorch: a NaN always replaces the running maximum, so the LAST NaN of the window is taken.
  expect_edges("NaN", {1, 1, 2, 4}, two, {1, k_nan, 3, 4, k_nan, 2, 5, k_nan}, {3, 5}, {k_nan, k_nan}, {4, 7},
               {0, 0, 0, 0, 3, 0, 0, 5});
  // Padding is -inf, never 0: a plane of negative values keeps its negative maxima at the borders. x (1, 1, 3, 3) =
  // -1 .. -9 in row-major order, kernel 3, stride 1, padding 1: every output is the largest of its 3 × 3
  // neighbourhood, -1 in the top-left 2 × 2 (all of them choose element 0) and less further away.
  const std::vector<float> negative = {-1, -2, -3, -4, -5, -6, -7, -8, -9};
  expect_edges("padding acts as -inf", {1, 1, 3, 3}, square(3, 1, 1), negative, {1, 2, 3, 4, 5, 6, 7, 8, 9},
               {-1, -1, -2, -1, -1, -2, -4, -4, -5}, {0, 0, 1, 0, 0, 1, 3, 3, 4},
               {1 + 2 + 4 + 5, 3 + 6, 0, 7 + 8, 9, 0, 0, 0, 0});
  // One peak in the centre of a 5 × 5 plane is the maximum of all nine 3 × 3 windows around it (stride 1, no
  // padding): its gradient is the sum of their nine dy, and everything else gets +0.
  std::vector<float> peak(25, 0.0f), dy9 = {1, 2, 3, 4, 5, 6, 7, 8, 9}, want_dx(25, 0.0f);
  peak[12] = 1;
  want_dx[12] = 45;
  expect_edges("one element under nine windows", {1, 1, 5, 5}, square(3, 1, 0), peak, dy9, std::vector<float>(9, 1.0f),
               std::vector<uint32_t>(9, 12), want_dx);
}

TEST_CASE("max_pool2d rejects bad arguments and records nothing for empty tensors") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  Tensor x = make_tensor(arena, {2, 3, 5, 7}, DType::f32, "x"), y = make_tensor(arena, {2, 3, 2, 3}, DType::f32, "y");
  Tensor argmax = make_tensor(arena, {2, 3, 2, 3}, DType::u32, "argmax");
  Tensor wrong_y = make_tensor(arena, {2, 3, 3, 3}, DType::f32, "wrong y");
  Tensor float_argmax = make_tensor(arena, {2, 3, 2, 3}, DType::f32, "float argmax");
  Tensor flat = make_tensor(arena, {6, 35}, DType::f32, "flat");
  const ref::Pool2dWindow two = square(2, 2, 0);
  Recorder rec(ctx);
  ops::max_pool2d_forward(rec, y, argmax, x, two);  // the good call
  CHECK(rec.dispatch_count() == 1);
  CHECK_THROWS_WITH(ops::max_pool2d_forward(rec, wrong_y, argmax, x, two),
                    Contains("max_pool2d_forward: y 'wrong y' has shape (2, 3, 3, 3), expected (2, 3, 2, 3)") &&
                        Contains("2×2 window"));
  CHECK_THROWS_WITH(ops::max_pool2d_forward(rec, y, float_argmax, x, two), Contains("'float argmax' is f32, expected u32"));
  CHECK_THROWS_WITH(ops::max_pool2d_forward(rec, y, argmax, flat, two),
                    Contains("x 'flat' must be (N, C, H, W) or (C, H, W), got (6, 35)"));
  CHECK_THROWS_AS(ops::max_pool2d_forward(rec, y, argmax, flat, two), ShapeError);
  CHECK_THROWS_WITH(ops::max_pool2d_forward(rec, y, argmax, x, square(0, 1, 0)), Contains("invalid kernel_h = 0"));
  CHECK_THROWS_WITH(ops::max_pool2d_forward(rec, y, argmax, x, square(2, 0, 0)), Contains("invalid stride_h = 0"));
  CHECK_THROWS_WITH(ops::max_pool2d_forward(rec, y, argmax, x, square(3, 1, 2)),
                    Contains("invalid pad_h = 2") && Contains("at most half"));
  CHECK_THROWS_AS(ops::max_pool2d_forward(rec, y, argmax, x, {2, 2, 2, 2, 0, -1}), ArgumentError);
  CHECK_THROWS_WITH(ops::max_pool2d_forward(rec, y, argmax, x, square(6, 1, 0)),
                    Contains("invalid kernel_h = 6") && Contains("(2, 3, 5, 7)"));
  // y sharing argmax's memory, or the backward writing dx over dy.
  Tensor y_over_argmax{argmax.slice, argmax.shape, DType::f32, "y over argmax"};
  CHECK_THROWS_WITH(ops::max_pool2d_forward(rec, y_over_argmax, argmax, x, two), Contains("overlaps"));
  Tensor dx_over_dy{BufferSlice{y.slice.buffer, y.slice.offset, x.bytes()}, x.shape, DType::f32, "dx over dy"};
  CHECK_THROWS_AS(ops::max_pool2d_backward(rec, dx_over_dy, y, argmax, two), ArgumentError);
  CHECK_THROWS_WITH(ops::max_pool2d_backward(rec, x, wrong_y, argmax, two), Contains("max_pool2d_backward: dy 'wrong y'"));
  CHECK_THROWS_AS(ops::max_pool2d_backward(rec, x, y, float_argmax, two), ArgumentError);
  CHECK(rec.dispatch_count() == 1);
  Tensor empty = make_tensor(arena, {0, 3, 5, 7}, DType::f32, "empty"), empty_y = make_tensor(arena, {0, 3, 2, 3}, DType::f32, "ey");
  Tensor empty_argmax = make_tensor(arena, {0, 3, 2, 3}, DType::u32, "ea");
  ops::max_pool2d_forward(rec, empty_y, empty_argmax, empty, two);
  ops::max_pool2d_backward(rec, empty, empty_y, empty_argmax, two);
  CHECK(rec.dispatch_count() == 1);
}

TEST_CASE("MaxPool2d: PyTorch's printout, its shapes, and bad configurations refused when built") {
  CHECK(MaxPool2d(2).describe() == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
  CHECK(MaxPool2d(3, 1, 1).describe() == "MaxPool2d(kernel_size=3, stride=1, padding=1, dilation=1, ceil_mode=False)");
  CHECK(MaxPool2d(2).output_shape({8, 3, 5, 7}) == Shape{8, 3, 2, 3});
  CHECK(MaxPool2d(3, 2, 1).output_shape({8, 3, 5, 7}) == Shape{8, 3, 3, 4});
  CHECK(MaxPool2d(2).output_shape({3, 5, 7}) == Shape{3, 2, 3});
  CHECK(MaxPool2d(2).buffers({8, 3, 5, 7}).at(0).dtype == DType::u32);
  CHECK(MaxPool2d(2).buffers({8, 3, 5, 7}).at(0).kind == BufferKind::Scratch);
  CHECK(MaxPool2d(2).buffers({8, 3, 5, 7}).at(0).shape == Shape{8, 3, 2, 3});

  CHECK_THROWS_WITH(MaxPool2d(0), Contains("MaxPool2d: invalid kernel_size = 0"));
  CHECK_THROWS_WITH(MaxPool2d(2, 0), Contains("MaxPool2d: invalid stride = 0"));
  CHECK_THROWS_WITH(MaxPool2d(3, 1, 2), Contains("MaxPool2d: invalid padding = 2: expected in [0, kernel_size / 2] = [0, 1]"));
  CHECK_THROWS_AS(MaxPool2d(2, 2, -1), ArgumentError);
  CHECK_THROWS_WITH(MaxPool2d(2).output_shape({8, 35}),
                    Contains("MaxPool2d(kernel_size=2") && Contains("(N, C, H, W) or (C, H, W), got (8, 35)"));
  CHECK_THROWS_AS(MaxPool2d(2).output_shape({8, 1, 3, 5, 7}), ShapeError);
  CHECK_THROWS_WITH(MaxPool2d(6).output_shape({8, 3, 5, 7}),
                    Contains("input (8, 3, 5, 7) is too small for a 6 × 6 window: with padding 0 its planes are 5 × 7"));
  CHECK(MaxPool2d(6, 1, 3).output_shape({8, 3, 5, 7}) == Shape{8, 3, 6, 8});  // padding makes room

  // The Model refuses such a network when it is built, naming the layer and the shapes.
  Context& ctx = test::context();
  CHECK_THROWS_WITH(Model(ctx, Sequential{MaxPool2d(5), Flatten(), Linear(16, 4)}, {1, 4, 4}, test::synthetic_images_config()),
                    Contains("layer 0 MaxPool2d(kernel_size=5") && Contains("(16, 1, 4, 4)"));
  CHECK_THROWS_WITH(Model(ctx, Sequential{Flatten(), MaxPool2d(2), Linear(4, 4)}, {1, 4, 4}, test::synthetic_images_config()),
                    Contains("layer 1 MaxPool2d") && Contains("(16, 16)"));
}

TEST_CASE("a model with a MaxPool2d layer trains, and its gradient reaches the layer below") {
  // Linear(4, 8) maps each image row (16, 1, 4, 4) -> (16, 1, 4, 8); the pool halves that to (16, 1, 2, 4).
  const Sequential net{Linear(4, 8), ReLU(), MaxPool2d(2), Flatten(), Linear(8, 4)};
  const test::SyntheticRun run = test::train_synthetic_images(net, 4);
  CHECK(run.last_loss < run.first_loss);
  CHECK(run.first_weight_change > 0);  // the gradient went through the pool's argmax
  Model model(test::context(), net, {1, 4, 4}, test::synthetic_images_config());
  CHECK_THAT(model.summary(), Contains("(2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)  "
                                       "# -> torch.Size([16, 1, 2, 4])"));
}

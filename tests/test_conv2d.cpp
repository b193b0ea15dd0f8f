// Conv2d (ops/conv2d.hpp) against reference/conv2d.hpp, and the reference against finite differences.
//
// Tolerances, GPU against the double reference, as tests/test_matmul.cpp argues them: inputs, weights, biases
// and dy are uniform in [-1, 1], and an f32 sum of K such products drifts from the exact one by about 2e-8·K at
// worst in practice (a random walk of roundings of partial sums of size ~sqrt(K)/3), well inside
// atol = 1e-5·sqrt(K); rtol 1e-5 covers the final rounding of large values. K is the longest sum in the pass:
// forward C·KH·KW + 1 (the bias); backward the larger of N·OH·OW (dW and db sum over every output position)
// and OC·KH·KW (dx: the matmul sums over OC, col2im over the taps). A tap read from the wrong place, a missed
// k-step or a wrong layout is off by ~0.1 or more. The reference is bilinear in (x, weight), so its central
// differences are exact up to double rounding: the default fd_tol (1e-5) has room to spare.
#include "op_check.hpp"

#include <vkdrop/ops/conv2d.hpp>
#include <vkdrop/reference/conv2d.hpp>
#include <vkdrop/runtime/error.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

using namespace vkdrop;
using Catch::Matchers::Contains;
using test::Values;

namespace {

ref::Conv2dSizes sizes_of(const std::vector<Shape>& shapes, const Conv2dGeometry& g) {
  const Shape& x = shapes.at(0);
  const Shape& w = shapes.at(1);
  return {int(x.at(0)), int(x.at(1)), int(x.at(2)), int(x.at(3)), int(w.at(0)), g};
}

// How the GPU backward is asked: as the layer does (dcols over cols), into a dcols of its own, or for the
// weight and bias gradients only (a first layer, whose dx nobody needs: dx is left as it was).
enum class Backward { DcolsOverCols, SeparateDcols, NoDx };

// The convolution as an op of x, weight and (with a bias) bias, so check_op differentiates all three. The scratch
// (cols, rows, dcols) lives in an arena of the spec's own, made anew by each forward.
test::OpSpec conv2d_spec(const Conv2dGeometry& g, bool bias, Backward mode = Backward::DcolsOverCols) {
  struct Scratch {
    std::unique_ptr<Arena> arena;
    Tensor cols, rows, dcols;
  };
  auto scratch = std::make_shared<Scratch>();
  test::OpSpec s;
  s.name = fmt::format("conv2d(kernel ({}, {}), stride ({}, {}), padding ({}, {}), dilation ({}, {}){})", g.kernel.h,
                       g.kernel.w, g.stride.h, g.stride.w, g.padding.h, g.padding.w, g.dilation.h, g.dilation.w,
                       bias ? "" : ", no bias");
  s.inputs = bias ? std::vector<std::string>{"x", "weight", "bias"} : std::vector<std::string>{"x", "weight"};
  s.output_shape = [g](const std::vector<Shape>& shapes) {
    const ref::Conv2dSizes z = sizes_of(shapes, g);
    return Shape{z.N, z.OC, z.OH(), z.OW()};
  };
  s.reference_forward = [g, bias](const std::vector<Values>& x, const std::vector<Shape>& shapes) {
    const ref::Conv2dSizes z = sizes_of(shapes, g);
    Values y(size_t(z.N * z.OC * z.OH() * z.OW()));
    ref::conv2d_forward(y.data(), x[0].data(), x[1].data(), bias ? x[2].data() : nullptr, z);
    return y;
  };
  s.reference_backward = [g, bias](const std::vector<Values>& x, const Values&, const Values& dy,
                                   const std::vector<Shape>& shapes) {
    const ref::Conv2dSizes z = sizes_of(shapes, g);
    std::vector<Values> d{Values(x[0].size()), Values(x[1].size())};
    if (bias) d.emplace_back(x[2].size());
    ref::conv2d_backward(d[0].data(), d[1].data(), bias ? d[2].data() : nullptr, dy.data(), x[0].data(), x[1].data(), z);
    return d;
  };
  s.forward = [g, bias, scratch](Recorder& rec, const Tensor& y, const std::vector<Tensor>& x) {
    const ref::Conv2dSizes z = sizes_of({x[0].shape, x[1].shape}, g);
    const int64_t positions = int64_t(z.N) * z.OH() * z.OW(), taps = int64_t(z.C) * z.KH() * z.KW();
    scratch->arena = std::make_unique<Arena>(rec.context(), 1 << 20);
    scratch->cols = make_tensor(*scratch->arena, {positions, taps}, DType::f32, "cols");
    scratch->rows = make_tensor(*scratch->arena, {positions, z.OC}, DType::f32, "rows");
    scratch->dcols = make_tensor(*scratch->arena, {positions, taps}, DType::f32, "dcols");
    ops::conv2d_forward(rec, y, scratch->cols, scratch->rows, x[0], x[1], bias ? &x[2] : nullptr, g);
  };
  s.backward = [g, bias, mode, scratch](Recorder& rec, const std::vector<Tensor>& dx, const Tensor& dy,
                                        const std::vector<Tensor>& x, const Tensor&) {
    const Tensor& dcols = mode == Backward::SeparateDcols ? scratch->dcols : scratch->cols;
    ops::conv2d_backward(rec, mode == Backward::NoDx ? nullptr : &dx[0], dx[1], bias ? &dx[2] : nullptr, dcols,
                         scratch->rows, dy, scratch->cols, x[1], g);
  };
  s.lo = -1;
  s.hi = 1;
  return s;
}

// check_op over `cases` ({x, weight, bias} shapes each), with the tolerances of the header comment for each case.
void check_conv2d(const Conv2dGeometry& g, bool bias, std::initializer_list<std::vector<Shape>> cases,
                  Backward mode = Backward::DcolsOverCols) {
  for (const std::vector<Shape>& shapes : cases) {
    test::OpSpec spec = conv2d_spec(g, bias, mode);
    const ref::Conv2dSizes z = sizes_of(shapes, g);
    const double forward_terms = double(z.C) * z.KH() * z.KW() + 1;
    const double backward_terms = std::max(double(z.N) * z.OH() * z.OW(), double(z.OC) * z.KH() * z.KW());
    spec.atol = 1e-5 * std::sqrt(forward_terms);
    spec.rtol = 1e-5;
    spec.grad_atol = 1e-5 * std::sqrt(backward_terms);
    spec.grad_rtol = 1e-5;
    spec.fd_elements = 300;  // each difference is a whole reference convolution
    test::check_op(spec, {shapes});
  }
}

}  // namespace

TEST_CASE("conv2d forward and backward over odd shapes") {
  // A 1x1x5x7 input under a 3x3 kernel, stride 2, padding 1 (output 3x4), then more channels and a batch of 33.
  const Conv2dGeometry strided{3, 2, 1};
  check_conv2d(strided, true,
               {{{1, 1, 5, 7}, {1, 1, 3, 3}, {1}},
                {{1, 1, 5, 7}, {4, 1, 3, 3}, {4}},
                {{2, 3, 5, 7}, {5, 3, 3, 3}, {5}},
                {{1, 17, 6, 5}, {3, 17, 3, 3}, {3}},
                {{33, 3, 7, 6}, {8, 3, 3, 3}, {8}}});
  // Same-size 3x3 (padding 1), the common layer; 1x1 kernels; a kernel as large as the padded input (1x1 output).
  check_conv2d(Conv2dGeometry{3, 1, 1}, true, {{{33, 1, 8, 8}, {4, 1, 3, 3}, {4}}, {{3, 17, 5, 4}, {17, 17, 3, 3}, {17}}});
  check_conv2d(Conv2dGeometry{1}, true, {{{2, 17, 3, 5}, {7, 17, 1, 1}, {7}}, {{33, 3, 1, 1}, {5, 3, 1, 1}, {5}}});
  check_conv2d(Conv2dGeometry{5, 1, 1}, true, {{{2, 3, 3, 3}, {4, 3, 5, 5}, {4}}});
  // Dilation 2: taps two apart, with and without padding.
  check_conv2d(Conv2dGeometry{3, 1, 2, 2}, true, {{{2, 3, 9, 8}, {4, 3, 3, 3}, {4}}, {{1, 1, 5, 5}, {2, 1, 3, 3}, {2}}});
  check_conv2d(Conv2dGeometry{3, 1, 0, 2}, true, {{{3, 2, 7, 9}, {3, 2, 3, 3}, {3}}});
  // A non-square kernel with a different stride, padding and dilation per dimension.
  check_conv2d(Conv2dGeometry{{2, 5}, {2, 1}, {1, 0}, {1, 2}}, true,
               {{{3, 2, 7, 13}, {4, 2, 2, 5}, {4}}, {{1, 3, 2, 9}, {1, 3, 2, 5}, {1}}});
  // Stride larger than the kernel: input elements no window reads get a zero gradient.
  check_conv2d(Conv2dGeometry{2, 3}, true, {{{2, 2, 8, 7}, {3, 2, 2, 2}, {3}}});
}

TEST_CASE("conv2d without bias") {
  check_conv2d(Conv2dGeometry{3, 1}, false, {{{4, 3, 6, 6}, {5, 3, 3, 3}}, {{1, 1, 5, 7}, {1, 1, 3, 3}}});
  check_conv2d(Conv2dGeometry{{3, 1}, 2, {1, 0}, {2, 1}}, false, {{{2, 17, 9, 4}, {3, 17, 3, 1}}});
}

TEST_CASE("conv2d backward into a dcols of its own") {
  check_conv2d(Conv2dGeometry{3, 2, 1}, true, {{{2, 3, 5, 7}, {5, 3, 3, 3}, {5}}}, Backward::SeparateDcols);
}

TEST_CASE("conv2d backward without dx: the same weight and bias gradients, dx untouched") {
  const Conv2dGeometry g{3, 2, 1};
  const std::vector<Shape> shapes{{2, 3, 5, 7}, {5, 3, 3, 3}, {5}};
  std::vector<std::vector<float>> x;
  for (size_t i = 0; i < shapes.size(); ++i) x.push_back(test::random_floats(size_t(element_count(shapes[i])), 40 + uint32_t(i)));
  const std::vector<float> dy = test::random_floats(2 * 5 * 3 * 4, 50);
  const test::OpValues all = test::run_op(conv2d_spec(g, true), shapes, x, dy);
  const test::OpValues no_dx = test::run_op(conv2d_spec(g, true, Backward::NoDx), shapes, x, dy);
  for (float v : no_dx.dx.at(0)) REQUIRE(std::isnan(v));  // run_op's NaN, never written
  test::expect_bits(no_dx.dx.at(1), all.dx.at(1), "dweight without dx");
  test::expect_bits(no_dx.dx.at(2), all.dx.at(2), "dbias without dx");
}

TEST_CASE("conv2d ops refuse bad arguments, naming the tensor and the shapes") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  const Conv2dGeometry g{3, 1, 1};
  // x (2, 3, 5, 7), weight (4, 3, 3, 3): y (2, 4, 5, 7), 70 positions of 27 taps.
  Tensor x = make_tensor(arena, {2, 3, 5, 7}, DType::f32, "x"), w = make_tensor(arena, {4, 3, 3, 3}, DType::f32, "w");
  Tensor b = make_tensor(arena, {4}, DType::f32, "b"), y = make_tensor(arena, {2, 4, 5, 7}, DType::f32, "y");
  Tensor cols = make_tensor(arena, {70, 27}, DType::f32, "cols"), rows = make_tensor(arena, {70, 4}, DType::f32, "rows");
  Tensor dx = make_tensor(arena, {2, 3, 5, 7}, DType::f32, "dx"), dw = make_tensor(arena, {4, 3, 3, 3}, DType::f32, "dw");
  Tensor db = make_tensor(arena, {4}, DType::f32, "db");
  Recorder rec(ctx);
  const auto forward = [&](const Tensor& y_, const Tensor& x_, const Tensor& w_, const Conv2dGeometry& g_) {
    ops::conv2d_forward(rec, y_, cols, rows, x_, w_, &b, g_);
  };

  Tensor y_wrong = make_tensor(arena, {2, 4, 3, 5}, DType::f32, "y_wrong");
  CHECK_THROWS_AS(forward(y_wrong, x, w, g), ShapeError);
  CHECK_THROWS_WITH(forward(y_wrong, x, w, g), Contains("conv2d_forward: y 'y_wrong' has shape (2, 4, 3, 5), expected (2, 4, 5, 7)") &&
                                                   Contains("x (2, 3, 5, 7)") && Contains("padding (1, 1)"));
  Tensor w_wrong = make_tensor(arena, {4, 2, 3, 3}, DType::f32, "w_wrong");
  CHECK_THROWS_WITH(forward(y, x, w_wrong, g), Contains("weight 'w_wrong' has shape (4, 2, 3, 3), expected (4, 3, 3, 3)"));
  Tensor flat = reshaped(x, {2, 3, 35});
  CHECK_THROWS_WITH(forward(y, flat, w, g), Contains("x 'x' must be (N, C, H, W), got (2, 3, 35)"));
  Tensor short_cols = make_tensor(arena, {70, 9}, DType::f32, "short_cols");
  CHECK_THROWS_WITH(ops::conv2d_forward(rec, y, short_cols, rows, x, w, &b, g),
                    Contains("cols 'short_cols' has shape (70, 9), expected (70, 27)") && Contains("C·KH·KW = 3·3·3"));
  Tensor b_wrong = make_tensor(arena, {3}, DType::f32, "b_wrong");
  CHECK_THROWS_AS(ops::conv2d_forward(rec, y, cols, rows, x, w, &b_wrong, g), ShapeError);
  // Geometries no convolution has, and a kernel larger than the padded input.
  CHECK_THROWS_WITH(forward(y, x, w, Conv2dGeometry{3, 0, 1}), Contains("conv2d_forward: invalid stride height = 0"));
  CHECK_THROWS_WITH(forward(y, x, w, Conv2dGeometry{3, 1, -1}), Contains("invalid padding height = -1: expected >= 0"));
  CHECK_THROWS_WITH(forward(y, x, w, Conv2dGeometry{3, 1, 1, {1, 0}}), Contains("invalid dilation width = 0"));
  CHECK_THROWS_AS(forward(y, x, w, Conv2dGeometry{0}), ArgumentError);
  CHECK_THROWS_WITH(ops::im2col(rec, cols, x, Conv2dGeometry{{7, 3}}),
                    Contains("im2col: invalid output height = -1") && Contains("x (2, 3, 5, 7)"));
  // Overlaps and dtypes.
  Tensor b_in_y{y.slice.sub(0, 16), {4}, DType::f32, "b_in_y"};
  CHECK_THROWS_WITH(ops::conv2d_forward(rec, y, cols, rows, x, w, &b_in_y, g), Contains("y 'y' overlaps bias 'b_in_y'"));
  Tensor rows_in_cols{cols.slice.sub(0, rows.bytes()), {70, 4}, DType::f32, "rows_in_cols"};
  CHECK_THROWS_WITH(ops::conv2d_forward(rec, y, cols, rows_in_cols, x, w, &b, g),
                    Contains("cols 'cols' overlaps rows 'rows_in_cols'"));
  Tensor ints = make_tensor(arena, {2, 3, 5, 7}, DType::i32, "ints");
  CHECK_THROWS_WITH(forward(y, ints, w, g), Contains("'ints' is i32, expected f32"));

  // Backward: dy must be y's shape for dx's; dcols may be cols or disjoint, not a part of it.
  CHECK_THROWS_WITH(ops::conv2d_backward(rec, &dx, dw, &db, cols, rows, y_wrong, cols, w, g),
                    Contains("conv2d_backward: dy 'y_wrong' has shape (2, 4, 3, 5), expected (2, 4, 5, 7)"));
  CHECK_THROWS_WITH(ops::conv2d_backward(rec, &dx, w_wrong, &db, cols, rows, y, cols, w, g),
                    Contains("dweight 'w_wrong'"));
  Tensor pool = make_tensor(arena, {71, 27}, DType::f32, "pool");
  Tensor cols_a{pool.slice.sub(0, cols.bytes()), {70, 27}, DType::f32, "cols_a"};
  Tensor dcols_b{pool.slice.sub(4, cols.bytes()), {70, 27}, DType::f32, "dcols_b"};
  CHECK_THROWS_WITH(ops::conv2d_backward(rec, &dx, dw, &db, dcols_b, rows, y, cols_a, w, g),
                    Contains("dcols 'dcols_b' and cols 'cols_a' partially overlap"));
  CHECK_THROWS_WITH(ops::conv2d_backward(rec, &dx, dw, &db, cols, rows, y, cols, dw, g), Contains("overlaps"));
  CHECK_THROWS_WITH(ops::conv2d_backward(rec, &dx, dw, nullptr, cols, rows, y, cols, w, Conv2dGeometry{3, 2, 1}),
                    Contains("dy 'y' has shape (2, 4, 5, 7), expected (2, 4, 3, 4)"));
  CHECK(rec.dispatch_count() == 0);
  // The layer's way, dcols over cols, is fine: a transpose, dW, db, dcols and col2im.
  CHECK_NOTHROW(ops::conv2d_backward(rec, &dx, dw, &db, cols, rows, y, cols, w, g));
  CHECK(rec.dispatch_count() == 5);
  CHECK_THROWS_AS(ops::batched_transpose(rec, reshaped(rows, {1, 4, 70}), reshaped(rows, {1, 70, 4})), ArgumentError);
  CHECK_THROWS_WITH(ops::batched_transpose(rec, reshaped(cols, {70, 27, 1}), reshaped(rows, {70, 4, 1})),
                    Contains("batched_transpose: out 'cols' has shape (70, 27, 1), expected (70, 1, 4)"));
  CHECK(rec.dispatch_count() == 5);
}

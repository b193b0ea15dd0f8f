// Conv2d: the op (ops/conv2d.hpp) against reference/conv2d.hpp and the reference against finite differences; the
// layer (layers/conv2d.hpp): its printout, initialization, bad input, and models with it that train.
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
#include "synthetic.hpp"

#include <vkdrop/layers/conv2d.hpp>
#include <vkdrop/layers/flatten.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/relu.hpp>
#include <vkdrop/ops/conv2d.hpp>
#include <vkdrop/ops/matmul.hpp>
#include <vkdrop/reference/conv2d.hpp>
#include <vkdrop/reference/linear.hpp>
#include <vkdrop/reference/relu.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/train/model.hpp>

#include <algorithm>
#include <array>
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
    scratch->rows = make_tensor(*scratch->arena, {z.OC, positions}, DType::f32, "rows");
    scratch->dcols = make_tensor(*scratch->arena, {positions, taps}, DType::f32, "dcols");
    ops::conv2d_forward(rec, y, scratch->cols, scratch->rows, x[0], x[1], bias ? &x[2] : nullptr, g);
  };
  s.backward = [g, bias, mode, scratch](Recorder& rec, const std::vector<Tensor>& dx, const Tensor& dy,
                                        const std::vector<Tensor>& x, const Tensor&) {
    const Tensor& dcols = mode == Backward::SeparateDcols ? scratch->dcols : scratch->cols;
    ops::conv2d_backward(rec, mode == Backward::NoDx ? nullptr : &dx[0], dx[1], bias ? &dx[2] : nullptr, dcols,
                         scratch->rows, dy, x[0], scratch->cols, x[1], g);
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
                {{33, 3, 7, 6}, {8, 3, 3, 3}, {8}},
                {{2, 4, 5, 7}, {3, 4, 3, 3}, {3}}});  // 36 taps a row: im2col writes whole rows in quads
  // Same-size 3x3 (padding 1), the common layer; 1x1 kernels; a kernel as large as the padded input (1x1 output).
  check_conv2d(Conv2dGeometry{3, 1, 1}, true,
               {{{33, 1, 8, 8}, {4, 1, 3, 3}, {4}}, {{3, 17, 5, 4}, {17, 17, 3, 3}, {17}}, {{2, 8, 3, 6}, {5, 8, 3, 3}, {5}}});
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
  // Few taps (the direct kernels on a CPU device) with a stride, padding and kernel of their own along h, and a
  // padded 1x5 kernel without bias.
  check_conv2d(Conv2dGeometry{{3, 2}, {2, 1}, {1, 0}}, true, {{{3, 2, 7, 9}, {5, 2, 3, 2}, {5}}});
  check_conv2d(Conv2dGeometry{{1, 5}, 1, {0, 2}}, false, {{{2, 1, 3, 12}, {6, 1, 1, 5}}});
}

TEST_CASE("conv2d's direct weight gradient over quads of positions: padding, dilation and strides along h") {
  // On a CPU device, few taps with stride_w 1 and OW, W multiples of 4 take the quad kernel (four positions along
  // ow an item): padding 1 and 3 (the loaded run starts 3 and 1 elements before the window), none (a 1x5 kernel
  // narrowing 12 columns to 8), dilation 3, a stride along h, a partial last block of output channels (5 channels,
  // 2 a block), a batch of 33. The tests above cover padding 1 and 2 and dilation 2 too ({33, 1, 8, 8},
  // {2, 1, 3, 12}, {2, 3, 9, 8}).
  check_conv2d(Conv2dGeometry{{3, 3}, {2, 1}, {1, 3}, {1, 1}}, true, {{{2, 2, 5, 8}, {5, 2, 3, 3}, {5}}});
  check_conv2d(Conv2dGeometry{{1, 5}, 1, 0}, true, {{{3, 2, 4, 12}, {3, 2, 1, 5}, {3}}});
  check_conv2d(Conv2dGeometry{{3, 3}, 1, {0, 3}, {1, 3}}, false, {{{2, 3, 3, 8}, {4, 3, 3, 3}}});
  check_conv2d(Conv2dGeometry{3, 1, 1}, true, {{{33, 1, 4, 4}, {7, 1, 3, 3}, {7}}});
}

TEST_CASE("conv2d's im2col over channel quads with the kernel unrolled: padding, strides, dilation, 1x1 to 5x5") {
  // Channels a multiple of 4 and kernels up to 25 taps take im2col.comp's FIXED path (its window rows and columns
  // decided once per position, four channels an iteration): padding 2 on a 5x5 kernel, a non-square kernel with a
  // stride along h and a dilation along w, 1x1, dilation 2 with padding 2 over 12 channels, and a 6x5 kernel (30
  // taps, the counter loop) beside them. {2, 4, 5, 7} and {2, 8, 3, 6} above take it too.
  check_conv2d(Conv2dGeometry{5, 1, 2}, true, {{{2, 4, 4, 6}, {3, 4, 5, 5}, {3}}});
  check_conv2d(Conv2dGeometry{{2, 5}, {2, 1}, {1, 0}, {1, 2}}, true, {{{3, 4, 7, 13}, {3, 4, 2, 5}, {3}}});
  check_conv2d(Conv2dGeometry{1}, false, {{{2, 8, 3, 5}, {5, 8, 1, 1}}});
  check_conv2d(Conv2dGeometry{3, 1, 2, 2}, true, {{{2, 12, 5, 6}, {2, 12, 3, 3}, {2}}});
  check_conv2d(Conv2dGeometry{{6, 5}, 1, 1}, true, {{{2, 4, 6, 5}, {2, 4, 6, 5}, {2}}});
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

TEST_CASE("block_transpose and row_sum match their references on odd shapes") {
  Context& ctx = test::context();
  for (const auto& [a, b, e] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {3, 5, 1}, {4, 33, 3}, {5, 3, 4}, {2, 7, 8},
                                                                   {17, 9, 196}, {6, 4, 7}}) {
    Arena arena(ctx, 1 << 20);
    Tensor in = make_tensor(arena, {a, b, e}, DType::f32, "in"), out = make_tensor(arena, {b, a, e}, DType::f32, "out");
    Tensor bias = make_tensor(arena, {a}, DType::f32, "bias"), sums = make_tensor(arena, {a}, DType::f32, "sums");
    const std::vector<float> xs = test::random_floats(size_t(a * b * e), 3), bs = test::random_floats(size_t(a), 4);
    upload(ctx, in, std::span<const float>(xs));
    upload(ctx, bias, std::span<const float>(bs));
    for (bool with_bias : {false, true}) {
      Recorder rec(ctx);
      ops::block_transpose(rec, out, in, with_bias ? &bias : nullptr);
      ops::row_sum(rec, sums, reshaped(in, {a, b * e}));
      rec.run();
      std::vector<float> want(xs.size()), want_sums(static_cast<size_t>(a));
      ref::block_transpose(want.data(), xs.data(), with_bias ? bs.data() : nullptr, a, b, e);
      ref::row_sum(want_sums.data(), xs.data(), a, b * e);
      test::expect_bits(download_f32(ctx, out), want, fmt::format("block_transpose ({}, {}, {})", a, b, e));
      // An f32 sum of L values in [-1, 1]: well inside 1e-5·sqrt(L) (see the tolerances above).
      test::expect_close(download_f32(ctx, sums), want_sums,
                         1e-5 * std::sqrt(double(b * e)), 0, fmt::format("row_sum ({}, {})", a, b * e));
    }
  }
}

TEST_CASE("col2im gives the same bits from dcols stored position-major or tap-major") {
  // conv2d_backward writes dcols tap-major (its transpose); ops::col2im still takes im2col's layout. Both must
  // add each input element's taps in the same order. Unit stride (the grid path) and stride 2 (the general loop).
  Context& ctx = test::context();
  struct Case {
    int64_t n, c, h, w;
    Conv2dGeometry g;
  };
  for (const Case& t : std::vector<Case>{{2, 3, 5, 7, Conv2dGeometry{3, 1, 1}},
                                         {1, 17, 6, 5, Conv2dGeometry{3, 2, 1}},
                                         {3, 2, 9, 4, Conv2dGeometry{{2, 3}, {1, 1}, {0, 1}, {2, 1}}}}) {
    const ref::Conv2dSizes s{int(t.n), int(t.c), int(t.h), int(t.w), 1, t.g};
    const int64_t positions = t.n * s.OH() * s.OW(), taps = t.c * t.g.kernel.h * t.g.kernel.w;
    INFO(fmt::format("x ({}, {}, {}, {}), {} positions, {} taps", t.n, t.c, t.h, t.w, positions, taps));
    Arena arena(ctx, 1 << 20);
    Tensor by_position = make_tensor(arena, {positions, taps}, DType::f32, "dcols");
    Tensor by_tap = make_tensor(arena, {taps, positions}, DType::f32, "dcols_t");
    Tensor dx1 = make_tensor(arena, {t.n, t.c, t.h, t.w}, DType::f32, "dx1");
    Tensor dx2 = make_tensor(arena, {t.n, t.c, t.h, t.w}, DType::f32, "dx2");
    const std::vector<float> d = test::random_floats(size_t(positions * taps), 8);
    std::vector<float> d_t(d.size());
    for (int64_t p = 0; p < positions; ++p)
      for (int64_t k = 0; k < taps; ++k) d_t[size_t(k * positions + p)] = d[size_t(p * taps + k)];
    upload(ctx, by_position, std::span<const float>(d));
    upload(ctx, by_tap, std::span<const float>(d_t));
    Recorder rec(ctx);
    ops::col2im(rec, dx1, by_position, t.g);
    ops::col2im(rec, dx2, by_tap, t.g, ops::ColsLayout::TapMajor);
    rec.run();
    const std::vector<float> a = download_f32(ctx, dx1);
    test::expect_bits(download_f32(ctx, dx2), a, "col2im tap-major against position-major");
    CHECK(std::any_of(a.begin(), a.end(), [](float v) { return v != 0.0f; }));
    // The transposed layout's shape is checked as such.
    CHECK_THROWS_AS(ops::col2im(rec, dx1, by_position, t.g, ops::ColsLayout::TapMajor), ShapeError);
  }
}

TEST_CASE("conv2d ops refuse bad arguments, naming the tensor and the shapes") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  const Conv2dGeometry g{3, 1, 1};
  // x (2, 3, 5, 7), weight (4, 3, 3, 3): y (2, 4, 5, 7), 70 positions of 27 taps.
  Tensor x = make_tensor(arena, {2, 3, 5, 7}, DType::f32, "x"), w = make_tensor(arena, {4, 3, 3, 3}, DType::f32, "w");
  Tensor b = make_tensor(arena, {4}, DType::f32, "b"), y = make_tensor(arena, {2, 4, 5, 7}, DType::f32, "y");
  Tensor cols = make_tensor(arena, {70, 27}, DType::f32, "cols"), rows = make_tensor(arena, {4, 70}, DType::f32, "rows");
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
  Tensor rows_in_cols{cols.slice.sub(0, rows.bytes()), {4, 70}, DType::f32, "rows_in_cols"};
  CHECK_THROWS_WITH(ops::conv2d_forward(rec, y, cols, rows_in_cols, x, w, &b, g),
                    Contains("cols 'cols' overlaps rows 'rows_in_cols'"));
  // No input channels: refused (the direct kernels would have no taps), as nn.Conv2d refuses in_channels = 0.
  Tensor x_empty = make_tensor(arena, {2, 0, 5, 7}, DType::f32, "x_empty");
  Tensor w_empty = make_tensor(arena, {4, 0, 3, 3}, DType::f32, "w_empty");
  Tensor cols_empty = make_tensor(arena, {70, 0}, DType::f32, "cols_empty");
  CHECK_THROWS_WITH(ops::conv2d_forward(rec, y, cols_empty, rows, x_empty, w_empty, &b, g),
                    Contains("conv2d_forward: invalid input channels = 0"));
  CHECK_THROWS_WITH(ops::conv2d_backward(rec, nullptr, w_empty, &db, cols_empty, rows, y, x_empty, cols_empty, w_empty, g),
                    Contains("conv2d_backward: invalid input channels = 0"));
  Tensor ints = make_tensor(arena, {2, 3, 5, 7}, DType::i32, "ints");
  CHECK_THROWS_WITH(forward(y, ints, w, g), Contains("'ints' is i32, expected f32"));

  // Backward: dy must be y's shape for dx's; dcols may be cols or disjoint, not a part of it.
  CHECK_THROWS_WITH(ops::conv2d_backward(rec, &dx, dw, &db, cols, rows, y_wrong, x, cols, w, g),
                    Contains("conv2d_backward: dy 'y_wrong' has shape (2, 4, 3, 5), expected (2, 4, 5, 7)"));
  CHECK_THROWS_WITH(ops::conv2d_backward(rec, &dx, w_wrong, &db, cols, rows, y, x, cols, w, g),
                    Contains("dweight 'w_wrong'"));
  Tensor pool = make_tensor(arena, {71, 27}, DType::f32, "pool");
  Tensor cols_a{pool.slice.sub(0, cols.bytes()), {70, 27}, DType::f32, "cols_a"};
  Tensor dcols_b{pool.slice.sub(4, cols.bytes()), {70, 27}, DType::f32, "dcols_b"};
  CHECK_THROWS_WITH(ops::conv2d_backward(rec, &dx, dw, &db, dcols_b, rows, y, x, cols_a, w, g),
                    Contains("dcols 'dcols_b' and cols 'cols_a' partially overlap"));
  CHECK_THROWS_WITH(ops::conv2d_backward(rec, &dx, dw, &db, cols, rows, y, x, cols, dw, g), Contains("overlaps"));
  CHECK_THROWS_WITH(ops::conv2d_backward(rec, &dx, dw, nullptr, cols, rows, y, x, cols, w, Conv2dGeometry{3, 2, 1}),
                    Contains("dy 'y' has shape (2, 4, 5, 7), expected (2, 4, 3, 4)"));
  Tensor x_wrong = make_tensor(arena, {2, 3, 5, 6}, DType::f32, "x_wrong");
  CHECK_THROWS_WITH(ops::conv2d_backward(rec, &dx, dw, &db, cols, rows, y, x_wrong, cols, w, g),
                    Contains("conv2d_backward: dy 'y' has shape (2, 4, 5, 7), expected (2, 4, 5, 6)") &&
                        Contains("x (2, 3, 5, 6)"));
  Tensor x_other_channels = make_tensor(arena, {2, 2, 5, 7}, DType::f32, "x_other_channels");
  CHECK_THROWS_WITH(ops::conv2d_backward(rec, nullptr, dw, &db, cols, rows, y, x_other_channels, cols, w, g),
                    Contains("x 'x_other_channels' has shape (2, 2, 5, 7), expected (2, 3, 5, 7)"));
  CHECK_THROWS_WITH(ops::conv2d_backward(rec, &dx, dw, &db, cols, rows, y, dx, cols, w, g),
                    Contains("dx 'dx' overlaps x 'dx'"));
  CHECK(rec.dispatch_count() == 0);
  // The layer's way, dcols over cols, is fine: dW and db (directly from x and dy on a CPU device, else a transpose,
  // dW and db), then dcols and col2im.
  CHECK_NOTHROW(ops::conv2d_backward(rec, &dx, dw, &db, cols, rows, y, x, cols, w, g));
  const size_t recorded = ctx.info().is_cpu() ? 4u : 5u;
  CHECK(rec.dispatch_count() == recorded);
  CHECK_THROWS_AS(ops::block_transpose(rec, reshaped(rows, {1, 4, 70}), reshaped(rows, {4, 1, 70}), nullptr),
                  ArgumentError);
  CHECK_THROWS_WITH(ops::block_transpose(rec, reshaped(cols, {70, 27, 1}), reshaped(rows, {4, 70, 1}), nullptr),
                    Contains("block_transpose: out 'cols' has shape (70, 27, 1), expected (70, 4, 1)"));
  CHECK_THROWS_WITH(ops::block_transpose(rec, reshaped(y, {4, 2, 35}), reshaped(rows, {2, 4, 35}), &db),
                    Contains("block_transpose: bias 'db' has shape (4,), expected (2,)"));
  CHECK_THROWS_WITH(ops::row_sum(rec, db, reshaped(cols, {27, 70})), Contains("row_sum: sums 'db' has shape (4,), expected (27,)"));
  CHECK(rec.dispatch_count() == recorded);
}

TEST_CASE("Conv2d prints as PyTorch prints it") {
  // torch.nn.Conv2d's extra_repr: stride always, padding unless all 0, dilation unless all 1, bias=False only
  // without a bias; every size as a tuple.
  CHECK(Conv2d(1, 32, 3, 1, 1).describe() == "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
  CHECK(Conv2d(3, 8, 3).describe() == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))");
  CHECK(Conv2d(3, 8, 5, 2).describe() == "Conv2d(3, 8, kernel_size=(5, 5), stride=(2, 2))");
  CHECK(Conv2d(3, 8, {3, 5}, {2, 1}, {0, 1}).describe() ==
        "Conv2d(3, 8, kernel_size=(3, 5), stride=(2, 1), padding=(0, 1))");
  CHECK(Conv2d(3, 8, 3, 1, 0, 2).describe() == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), dilation=(2, 2))");
  CHECK(Conv2d(3, 8, 3, 1, 0, {1, 2}).describe() == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), dilation=(1, 2))");
  CHECK(Conv2d(3, 8, 1, 1, 0, 1, false).describe() == "Conv2d(3, 8, kernel_size=(1, 1), stride=(1, 1), bias=False)");
  CHECK(Conv2d(3, 8, 3, 2, 1, 3, false).describe() ==
        "Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(3, 3), bias=False)");
  const Sequential net{Conv2d(1, 4, 3, 1, 1), ReLU(), Flatten(), Linear(64, 4)};
  CHECK_THAT(net.describe(), Contains("(0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"));
}

TEST_CASE("Conv2d shapes and buffers") {
  CHECK(Conv2d(1, 32, 3, 1, 1).output_shape({128, 1, 28, 28}) == Shape{128, 32, 28, 28});
  CHECK(Conv2d(1, 4, 3, 2, 1).output_shape({1, 1, 5, 7}) == Shape{1, 4, 3, 4});
  CHECK(Conv2d(3, 4, {2, 5}, {2, 1}, {1, 0}, {1, 2}).output_shape({3, 3, 7, 13}) == Shape{3, 4, 4, 5});
  CHECK(Conv2d(3, 4, 5, 1, 1).output_shape({2, 3, 3, 3}) == Shape{2, 4, 1, 1});  // the kernel just fits
  const std::vector<BufferSpec> specs = Conv2d(3, 8, {3, 5}, 2, 1).buffers({16, 3, 9, 9});  // output 5x4
  REQUIRE(specs.size() == 5);
  CHECK(specs[0].name == "weight");
  CHECK(specs[0].shape == Shape{8, 3, 3, 5});
  CHECK(specs[0].kind == BufferKind::Parameter);
  CHECK(specs[0].max_norm_axis == std::optional<size_t>(0));  // one unit per output channel's filter
  CHECK(specs[1].name == "bias");
  CHECK(specs[1].shape == Shape{8});
  CHECK_FALSE(specs[1].max_norm_axis.has_value());
  CHECK(specs[2].name == "cols");
  CHECK(specs[2].shape == Shape{16 * 5 * 4, 3 * 3 * 5});
  CHECK(specs[2].kind == BufferKind::Scratch);
  CHECK(specs[3].shape == Shape{8, 16 * 5 * 4});
  CHECK(specs[3].kind == BufferKind::Scratch);
  // The products' split-K partial sums: none of these products is long enough to split, so one element.
  CHECK(specs[4].name == "partials");
  CHECK(specs[4].shape == Shape{1});
  CHECK(specs[4].kind == BufferKind::Scratch);
  const std::vector<BufferSpec> no_bias = Conv2d(3, 8, 3, 1, 0, 1, false).buffers({2, 3, 4, 4});
  REQUIRE(no_bias.size() == 4);
  CHECK(no_bias[1].name == "cols");
  // The sample's first conv at batch 128: its weight gradient (32 x 9 over 100 352 positions) splits 64 ways.
  const std::vector<BufferSpec> first = Conv2d(1, 32, 3, 1, 1).buffers({128, 1, 28, 28});
  CHECK(first.back().shape == Shape{ops::matmul_partials_elements(32, 9, 128 * 28 * 28)});
  CHECK(first.back().shape == Shape{64 * 288});
}

TEST_CASE("Conv2d initializes as PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), weights then biases") {
  // fan_in = in·KH·KW = 3·3·5 = 45, fan_out = out·KH·KW = 8·15 = 120.
  const Conv2d conv(3, 8, {3, 5}, 1, 1);
  for (const Init init : {Init::PyTorchDefault, Init::XavierUniform}) {
    INFO((init == Init::XavierUniform ? "Xavier" : "PyTorch default"));
    std::vector<std::vector<float>> values{std::vector<float>(8 * 3 * 3 * 5), std::vector<float>(8)};
    std::mt19937_64 rng(11), same(11);
    conv.initialize(values, rng, init);
    const double w_bound = init == Init::XavierUniform ? std::sqrt(6.0 / (45 + 120)) : 1.0 / std::sqrt(45.0);
    const double b_bound = 1.0 / std::sqrt(45.0);
    // Exactly the draws uniform() makes in this order.
    for (float w : values[0]) REQUIRE(w == static_cast<float>(uniform(same, -w_bound, w_bound)));
    for (float b : values[1]) {
      REQUIRE(b == (init == Init::XavierUniform ? 0.0f : static_cast<float>(uniform(same, -b_bound, b_bound))));
    }
    double largest = 0;
    for (float w : values[0]) largest = std::max(largest, double(std::abs(w)));
    CHECK(largest <= w_bound);
    CHECK(largest > 0.9 * w_bound);  // 360 draws: the bound is the bound
  }
  std::vector<std::vector<float>> no_bias{std::vector<float>(4 * 2 * 3 * 3)};
  std::mt19937_64 rng(5), same(5);
  Conv2d(2, 4, 3, 1, 0, 1, false).initialize(no_bias, rng, Init::PyTorchDefault);
  for (float w : no_bias[0]) REQUIRE(w == static_cast<float>(uniform(same, -1 / std::sqrt(18.0), 1 / std::sqrt(18.0))));
}

TEST_CASE("Conv2d refuses bad sizes and input it cannot take, naming itself and the shapes") {
  CHECK_THROWS_WITH(Conv2d(1, 4, 3, 0), Contains("Conv2d(1, 4, kernel_size=(3, 3), stride=(0, 0)): invalid stride height = 0"));
  CHECK_THROWS_AS(Conv2d(1, 4, 3, {1, 0}), ArgumentError);
  CHECK_THROWS_WITH(Conv2d(1, 4, 0), Contains("invalid kernel height = 0: expected >= 1"));
  CHECK_THROWS_AS(Conv2d(1, 4, {3, 0}), ArgumentError);
  CHECK_THROWS_WITH(Conv2d(1, 4, 3, 1, 0, 0), Contains("invalid dilation height = 0"));
  CHECK_THROWS_WITH(Conv2d(1, 4, 3, 1, -1), Contains("invalid padding height = -1: expected >= 0"));
  CHECK_THROWS_AS(Conv2d(1, 4, 3, 1, {0, -2}), ArgumentError);
  CHECK_THROWS_WITH(Conv2d(0, 4, 3), Contains("invalid in_channels = 0"));
  CHECK_THROWS_AS(Conv2d(1, -4, 3), ArgumentError);

  const Conv2d conv(3, 4, 3, 1, 1);
  CHECK_THROWS_AS(conv.output_shape({8, 3, 28}), ShapeError);
  CHECK_THROWS_WITH(conv.output_shape({8, 3 * 28 * 28}),
                    Contains("Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)) expects input of shape "
                             "(batch, 3, H, W), got (8, 2352)"));
  CHECK_THROWS_WITH(conv.output_shape({8, 1, 28, 28}), Contains("got (8, 1, 28, 28): 1 channels, not 3"));
  // The dilated kernel spans 5x5 (3 taps two apart): a 2x2 input padded to 4x4 is too small, 3x3 to 5x5 fits.
  const Conv2d dilated(3, 4, 3, 1, 1, 2);
  CHECK_THROWS_WITH(dilated.output_shape({8, 3, 2, 9}),
                    Contains("input (8, 3, 2, 9) is 4x11 with padding, smaller than the 5x5 the dilated kernel spans"));
  CHECK(dilated.output_shape({8, 3, 3, 9}) == Shape{8, 4, 1, 7});
  CHECK_THROWS_AS(Conv2d(1, 1, {1, 8}).output_shape({1, 1, 8, 7}), ShapeError);

  // In a model, at build time, naming the layer.
  Context& ctx = test::context();
  TrainConfig config;
  config.batch_size = 16;
  config.eval_batch_size = 50;
  CHECK_THROWS_WITH(Model(ctx, Sequential{Conv2d(3, 4, 3), Flatten(), Linear(16, 4)}, {1, 4, 4}, config),
                    Contains("layer 0 Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1))") && Contains("(16, 1, 4, 4)"));
  CHECK_THROWS_WITH(Model(ctx, Sequential{Conv2d(1, 4, 5), Flatten(), Linear(16, 4)}, {1, 4, 4}, config),
                    Contains("layer 0 Conv2d(1, 4, kernel_size=(5, 5), stride=(1, 1))") && Contains("no output"));
  CHECK_THROWS_AS(Model(ctx, Sequential{Conv2d(1, 4, 3), Flatten(), Linear(16, 4)}, {16}, config), ShapeError);
}

TEST_CASE("a Conv2d whose im2col matrix exceeds one binding is refused when the model is built") {
  Context& ctx = test::context();
  // 64x64 images under a 3x3 same-size kernel: 4096 positions of 9 taps per sample, one batch too many.
  const uint64_t per_sample = 64 * 64 * 9 * sizeof(float);
  TrainConfig config;
  config.batch_size = static_cast<int64_t>(ctx.info().max_storage_buffer_range / per_sample) + 1;
  config.eval_batch_size = 1;
  CHECK_THROWS_WITH(Model(ctx, Sequential{Conv2d(1, 1, 3, 1, 1), Flatten(), Linear(64 * 64, 4)}, {1, 64, 64}, config),
                    Contains("layer 0 Conv2d(1, 1, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))") &&
                        Contains(fmt::format("0.cols ({}, 9)", config.batch_size * 4096)));
}

namespace {

// The synthetic problem's 16 features as 1x4x4 images.
DeviceDataset synthetic_images(Context& ctx, int64_t count, uint32_t seed) {
  return test::synthetic_dataset(ctx, count, seed, "synthetic images", {1, 4, 4});
}

TrainConfig image_config(double max_norm) {
  TrainConfig c;
  c.batch_size = 16;
  c.eval_batch_size = 50;
  c.seed = 5;
  c.schedule.lr = 0.1;
  c.schedule.momentum = 0.9;
  c.max_norm = max_norm;
  return c;
}

const NamedTensor& find(const std::vector<NamedTensor>& tensors, const std::string& name) {
  auto it = std::find_if(tensors.begin(), tensors.end(), [&](const NamedTensor& t) { return t.name == name; });
  if (it == tensors.end()) FAIL("no tensor " << name);
  return *it;
}

}  // namespace

TEST_CASE("a Conv2d-ReLU-Flatten-Linear model trains, max-norm caps each filter, and predicts as the reference") {
  Context& ctx = test::context();
  const DeviceDataset train = synthetic_images(ctx, 1000, 1);
  // Filters start with norms near sqrt(9/27) = 0.58 (U(-1/3, 1/3)); uncapped, those that learn pass 4 in these
  // four epochs. c = 2 binds on them and still leaves the classifier room to learn.
  constexpr double c = 2;
  Model model(ctx, Sequential{Conv2d(1, 4, 3, 1, 1), ReLU(), Flatten(), Linear(4 * 4 * 4, test::k_synthetic_classes)},
              {1, 4, 4}, image_config(c));
  const std::vector<float> before = find(model.state_dict(), "0.weight").values;
  std::vector<double> losses;
  for (int e = 0; e < 4; ++e) losses.push_back(model.train_epoch(train).loss);
  INFO("epoch losses " << losses[0] << " " << losses[1] << " " << losses[2] << " " << losses[3]);
  CHECK(losses.back() < 0.8 * losses.front());

  const std::vector<NamedTensor> state = model.state_dict();
  const NamedTensor& w = find(state, "0.weight");
  CHECK(w.shape == Shape{4, 1, 3, 3});
  CHECK(find(state, "0.bias").shape == Shape{4});
  CHECK(w.values != before);  // the gradient reached the filters
  double largest = 0;
  for (int64_t filter = 0; filter < 4; ++filter) {
    double squares = 0;
    for (int64_t k = 0; k < 9; ++k) squares += std::pow(double(w.values[size_t(filter * 9 + k)]), 2);
    const double norm = std::sqrt(squares);
    INFO("filter " << filter << " norm " << norm);
    CHECK(norm <= c * (1 + 1e-6));
    largest = std::max(largest, norm);
  }
  CHECK(std::abs(largest - c) <= 1e-5);

  // The trained model's probabilities against the reference network on its own weights, for inputs in [0, 1] as
  // the training data's. f32 sums of 9 (conv) and 64 (linear) terms of size ~1 keep the logits within ~1e-6, and
  // softmax's exp turns that into about the same relative error: atol 1e-5, rtol 1e-4 leave a wide margin, while
  // a missing bias or a wrong layout moves probabilities by 1e-2 or more.
  constexpr int n = 5;
  std::vector<float> images(n * 16);
  for (size_t i = 0; i < images.size(); ++i) images[i] = float((i * 37) % 256) / 255.0f;
  const std::vector<float> probabilities = model.predict(images, n);
  const ref::Conv2dSizes z{n, 1, 4, 4, 4, Conv2dGeometry{3, 1, 1}};
  const std::vector<float>& b = find(state, "0.bias").values;
  std::vector<double> x(images.begin(), images.end()), wd(w.values.begin(), w.values.end()), bd(b.begin(), b.end());
  std::vector<double> hidden(n * 64), relu(n * 64), logits(n * 4);
  ref::conv2d_forward(hidden.data(), x.data(), wd.data(), bd.data(), z);
  ref::relu_forward(relu.data(), hidden.data(), int(relu.size()));
  const std::vector<float>& w3 = find(state, "3.weight").values;
  const std::vector<float>& b3 = find(state, "3.bias").values;
  const std::vector<double> w3d(w3.begin(), w3.end()), b3d(b3.begin(), b3.end());
  ref::linear_forward(logits.data(), relu.data(), w3d.data(), b3d.data(), n, 64, 4);
  std::vector<float> want(n * 4);
  for (int row = 0; row < n; ++row) {
    double top = logits[size_t(row * 4)], sum = 0;
    for (int j = 1; j < 4; ++j) top = std::max(top, logits[size_t(row * 4 + j)]);
    for (int j = 0; j < 4; ++j) sum += std::exp(logits[size_t(row * 4 + j)] - top);
    for (int j = 0; j < 4; ++j) want[size_t(row * 4 + j)] = float(std::exp(logits[size_t(row * 4 + j)] - top) / sum);
  }
  test::expect_close(probabilities, want, 1e-5, 1e-4, "Conv2d model's probabilities");
}

TEST_CASE("two Conv2d layers train: the input gradient of the second reaches the first") {
  Context& ctx = test::context();
  const DeviceDataset train = synthetic_images(ctx, 1000, 2);
  Model model(ctx,
              Sequential{Conv2d(1, 4, 3, 1, 1), ReLU(), Conv2d(4, 6, {3, 2}, 1, {1, 0}, 1, false), ReLU(), Flatten(),
                         Linear(6 * 4 * 3, test::k_synthetic_classes)},
              {1, 4, 4}, image_config(0));
  const std::vector<float> before = find(model.state_dict(), "0.weight").values;
  const double first = model.train_epoch(train).loss;
  double last = first;
  for (int e = 0; e < 3; ++e) last = model.train_epoch(train).loss;
  CHECK(last < 0.8 * first);
  CHECK(find(model.state_dict(), "0.weight").values != before);
  CHECK_THAT(model.summary(), Contains("Conv2d(4, 6, kernel_size=(3, 2), stride=(1, 1), padding=(1, 0), bias=False)"));
}

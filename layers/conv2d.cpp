#include <vkdrop/layers/conv2d.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/conv2d.hpp>
#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace vkdrop {

namespace {

std::string pair_text(const Pair& p) { return fmt::format("({}, {})", p.h, p.w); }

}  // namespace

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, Pair kernel_size, Pair stride, Pair padding, Pair dilation,
               bool bias)
    : in_(in_channels), out_(out_channels), geometry_{kernel_size, stride, padding, dilation}, bias_(bias) {
  const std::string layer = describe();
  ops::check_value(layer.c_str(), in_channels >= 1, "in_channels", double(in_channels), ">= 1");
  ops::check_value(layer.c_str(), out_channels >= 1, "out_channels", double(out_channels), ">= 1");
  ops::check_conv2d_geometry(layer.c_str(), geometry_);
}

std::string Conv2d::describe() const {
  const Conv2dGeometry& g = geometry_;
  std::string text = fmt::format("Conv2d({}, {}, kernel_size={}, stride={}", in_, out_, pair_text(g.kernel),
                                 pair_text(g.stride));
  if (g.padding != Pair(0)) text += fmt::format(", padding={}", pair_text(g.padding));
  if (g.dilation != Pair(1)) text += fmt::format(", dilation={}", pair_text(g.dilation));
  if (!bias_) text += ", bias=False";
  return text + ")";
}

Shape Conv2d::output_shape(const Shape& input) const {
  if (input.size() != 4 || input[1] != in_) {
    throw ShapeError(fmt::format("{} expects input of shape (batch, {}, H, W), got {}{}", describe(), in_,
                                 shape_text(input),
                                 input.size() == 4 ? fmt::format(": {} channels, not {}", input[1], in_) : ""));
  }
  const Conv2dGeometry& g = geometry_;
  const int64_t oh = conv2d_output_size(input[2], g.kernel.h, g.stride.h, g.padding.h, g.dilation.h);
  const int64_t ow = conv2d_output_size(input[3], g.kernel.w, g.stride.w, g.padding.w, g.dilation.w);
  if (oh < 1 || ow < 1) {
    throw ShapeError(fmt::format("{}: input {} is {}x{} with padding, smaller than the {}x{} the dilated kernel spans, "
                                 "so there is no output",
                                 describe(), shape_text(input), input[2] + 2 * g.padding.h, input[3] + 2 * g.padding.w,
                                 g.dilation.h * (g.kernel.h - 1) + 1, g.dilation.w * (g.kernel.w - 1) + 1));
  }
  return {input[0], out_, oh, ow};
}

// Max-norm caps each output channel's filter (in, KH, KW): axis 0 of the weight.
std::vector<BufferSpec> Conv2d::buffers(const Shape& input) const {
  const Shape output = output_shape(input);
  const int64_t positions = output[0] * output[2] * output[3];
  std::vector<BufferSpec> specs{
      BufferSpec::parameter("weight", {out_, in_, geometry_.kernel.h, geometry_.kernel.w}, /*max_norm_axis=*/0)};
  if (bias_) specs.push_back(BufferSpec::parameter("bias", {out_}));
  specs.push_back(BufferSpec::scratch("cols", {positions, in_ * geometry_.kernel.h * geometry_.kernel.w}));
  specs.push_back(BufferSpec::scratch("rows", {out_, positions}));
  // The products' split-K partial sums (ops::matmul); one element when none splits.
  const int64_t taps = in_ * geometry_.kernel.h * geometry_.kernel.w;
  specs.push_back(BufferSpec::scratch("partials", {std::max<int64_t>(1, ops::conv2d_partials_elements(positions, taps, out_))}));
  return specs;
}

void Conv2d::initialize(std::span<std::vector<float>> values, std::mt19937_64& rng, Init init) const {
  // PyTorch: kaiming_uniform_(W, a=sqrt(5)) has bound 1/sqrt(fan_in), and the bias is U(-1/sqrt(fan_in),
  // 1/sqrt(fan_in)), with fan_in = in·KH·KW (torch.nn.init._calculate_fan_in_and_fan_out); Xavier takes
  // fan_out = out·KH·KW. Drawn in Linear's order: every weight, then every bias.
  const double taps = double(geometry_.kernel.h) * double(geometry_.kernel.w);
  const double fan_in = double(in_) * taps, fan_out = double(out_) * taps;
  const double w_bound = init == Init::XavierUniform ? std::sqrt(6.0 / (fan_in + fan_out)) : 1.0 / std::sqrt(fan_in);
  for (float& w : values[0]) w = static_cast<float>(uniform(rng, -w_bound, w_bound));
  if (bias_) {
    // Xavier leaves biases at zero, as Linear does.
    const double b_bound = 1.0 / std::sqrt(fan_in);
    for (float& b : values[1]) b = init == Init::XavierUniform ? 0.0f : static_cast<float>(uniform(rng, -b_bound, b_bound));
  }
}

// y (N, out, OH, OW) = W ⋆ x (N, in, H, W) + b, through cols = im2col(x) (scratch 0) and rows (scratch 1).
void Conv2d::forward(Recorder& rec, const LayerTensors& t, const PassState&) const {
  ops::conv2d_forward(rec, t.output, t.scratch[0], t.scratch[1], t.input, t.params[0], bias_ ? &t.params[1] : nullptr,
                      geometry_, &t.scratch[2]);
}

// dW from the forward's cols (or, for few taps on a CPU device, from x and dy: ops/conv2d.hpp), then dx's columns
// over them (nobody reads cols again until the next forward).
void Conv2d::backward(Recorder& rec, const LayerTensors& t, const PassState&) const {
  const Tensor& cols = t.scratch[0];
  ops::conv2d_backward(rec, t.grad_input.slice.empty() ? nullptr : &t.grad_input, t.grads[0],
                       bias_ ? &t.grads[1] : nullptr, /*dcols=*/cols, t.scratch[1], t.grad_output, t.input, cols,
                       t.params[0], geometry_, &t.scratch[2]);
}

}  // namespace vkdrop

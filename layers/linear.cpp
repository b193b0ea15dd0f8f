#include <vkdrop/layers/linear.hpp>

#include <vkdrop/ops/dropout.hpp>
#include <vkdrop/ops/elementwise.hpp>
#include <vkdrop/ops/matmul.hpp>
#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace vkdrop {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias)
    : in_(in_features), out_(out_features), bias_(bias) {
  if (in_features <= 0 || out_features <= 0) {
    throw ArgumentError(fmt::format("Linear({}, {}): feature counts must be positive", in_features, out_features));
  }
}

std::string Linear::describe() const {
  return fmt::format("Linear(in_features={}, out_features={}, bias={})", in_, out_, bias_ ? "True" : "False");
}

Shape Linear::output_shape(const Shape& input) const {
  if (input.size() < 2 || input.back() != in_) {
    throw ShapeError(fmt::format("{} expects input of shape (batch, ..., {}), got {}{}", describe(), in_,
                                 shape_text(input), input.size() > 2 ? " (a Flatten before it makes (batch, features))" : ""));
  }
  Shape output = input;
  output.back() = out_;
  return output;
}

// Max-norm caps each output unit's incoming weights: the rows of W.
// Scratch: the partial sums of its three products' split K and its bias gradient's split rows (ops::matmul,
// ops::bias_backward); one element when nothing splits.
std::vector<BufferSpec> Linear::buffers(const Shape& input) const {
  std::vector<BufferSpec> specs{BufferSpec::parameter("weight", {out_, in_}, /*max_norm_axis=*/0)};
  if (bias_) specs.push_back(BufferSpec::parameter("bias", {out_}));
  const int64_t rows = input.empty() ? 0 : element_count(input) / std::max<int64_t>(in_, 1);
  const int64_t partials = std::max({ops::matmul_partials_elements(rows, out_, in_),    // y = x · Wᵀ
                                     ops::matmul_partials_elements(rows, in_, out_),    // dx = dy · W
                                     ops::matmul_partials_elements(out_, in_, rows),    // dW = dyᵀ · x
                                     ops::bias_backward_partials_elements(rows, out_)});  // db = Σ_rows dy
  specs.push_back(BufferSpec::scratch("partials", {std::max<int64_t>(1, partials)}));
  return specs;
}

namespace {

// (*, features) as the matrix (rows, features) matmul takes.
Tensor as_matrix(const Tensor& t) { return reshaped(t, {t.numel() / std::max<int64_t>(t.shape.back(), 1), t.shape.back()}); }

// A folded Dropout's configuration for this pass, if the epilogue has one.
std::optional<ops::DropoutConfig> dropout_of(const Epilogue& e, const PassState& state) {
  if (!e.dropout) return std::nullopt;
  return dropout_config(*e.dropout, state);
}

}  // namespace

void Linear::initialize(std::span<std::vector<float>> values, std::mt19937_64& rng, Init init) const {
  // PyTorch: kaiming_uniform_(W, a=sqrt(5)) has bound gain*sqrt(3/fan_in) with gain = sqrt(2/(1+5)),
  // i.e. 1/sqrt(fan_in); the bias is U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  const double fan_in = static_cast<double>(in_), fan_out = static_cast<double>(out_);
  const double w_bound = init == Init::XavierUniform ? std::sqrt(6.0 / (fan_in + fan_out)) : 1.0 / std::sqrt(fan_in);
  for (float& w : values[0]) w = static_cast<float>(uniform(rng, -w_bound, w_bound));
  if (bias_) {
    // Xavier leaves biases at zero (as torch.nn.init users usually do); PyTorch's default draws them.
    const double b_bound = 1.0 / std::sqrt(fan_in);
    for (float& b : values[1]) b = init == Init::XavierUniform ? 0.0f : static_cast<float>(uniform(rng, -b_bound, b_bound));
  }
}

// y (B, out) = epilogue(x (B, in) · Wᵀ (in, out) + b (out)), the epilogue a ReLU and maybe a Dropout after it
void Linear::forward(Recorder& rec, const LayerTensors& t, const PassState& state) const {
  const ops::MatmulEpilogue epilogue =
      t.epilogue.relu ? ops::MatmulEpilogue::relu(dropout_of(t.epilogue, state), state.dropout, state.step)
                      : ops::MatmulEpilogue{};
  ops::matmul(rec, as_matrix(t.output), as_matrix(t.input), t.params[0], /*trans_a=*/false, /*trans_b=*/true,
              bias_ ? &t.params[1] : nullptr, &t.scratch[0], epilogue);
}

// dy = the gradient before the epilogue: y > 0 ? grad_output · scale : 0, in place (unless the layer after did it);
// dx (B, in) = dy (B, out) · W (out, in), through the layer before's epilogue backward where it has one;
// dW (out, in) = dyᵀ (out, B) · x (B, in);  db (out) = Σ_rows dy
void Linear::backward(Recorder& rec, const LayerTensors& t, const PassState& state) const {
  if (t.epilogue.relu && !t.grad_output_before_epilogue) {
    if (const auto dropout = dropout_of(t.epilogue, state)) {
      ops::relu_dropout_backward(rec, t.grad_output, t.grad_output, t.output, *dropout);
    } else {
      ops::relu_backward(rec, t.grad_output, t.grad_output, t.output);
    }
  }
  const Tensor dy = as_matrix(t.grad_output);
  if (!t.grad_input.slice.empty()) {
    const Tensor gate = as_matrix(t.input);  // the layer before's output, after its epilogue
    const ops::MatmulEpilogue through = t.input_epilogue.relu
                                            ? ops::MatmulEpilogue::relu_backward(gate, dropout_of(t.input_epilogue, state))
                                            : ops::MatmulEpilogue{};
    ops::matmul(rec, as_matrix(t.grad_input), dy, t.params[0], false, false, nullptr, &t.scratch[0], through);
  }
  ops::matmul(rec, t.grads[0], dy, as_matrix(t.input), /*trans_a=*/true, /*trans_b=*/false, nullptr, &t.scratch[0]);
  if (bias_) ops::bias_backward(rec, t.grads[1], dy, &t.scratch[0]);
}

}  // namespace vkdrop

#include <vkdrop/layers/leaky_relu.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/leaky_relu.hpp>

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace vkdrop {

namespace {

// A float as Python prints it, as PyTorch's module printouts do: fmt's "{}" gives the same shortest round-trip
// digits and the same switch to exponents, but prints 1.0 as "1" where Python prints "1.0".
std::string python_float(double v) {
  std::string text = fmt::format("{}", v);
  if (text.find_first_of(".en") == std::string::npos) text += ".0";  // not 1e-05, inf or nan
  return text;
}

}  // namespace

LeakyReLU::LeakyReLU(double negative_slope) : negative_slope_(negative_slope) {
  const bool finite = std::isfinite(negative_slope) && std::abs(negative_slope) <= std::numeric_limits<float>::max();
  ops::check_value("LeakyReLU", finite, "negative_slope", negative_slope, "a number finite as a float");
}

std::string LeakyReLU::describe() const { return fmt::format("LeakyReLU(negative_slope={})", python_float(negative_slope_)); }

void LeakyReLU::forward(Recorder& rec, const LayerTensors& t, const PassState&) const {
  ops::leaky_relu_forward(rec, t.output, t.input, static_cast<float>(negative_slope_));
}

// The derivative needs the sign of the input; the Model keeps every layer's input until backward.
void LeakyReLU::backward(Recorder& rec, const LayerTensors& t, const PassState&) const {
  if (!t.grad_input.slice.empty())
    ops::leaky_relu_backward(rec, t.grad_input, t.grad_output, t.input, static_cast<float>(negative_slope_));
}

}  // namespace vkdrop

#include <vkdrop/layers/leaky_relu.hpp>

#include <vkdrop/layers/python_float.hpp>
#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/leaky_relu.hpp>

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace vkdrop {


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

#include <vkdrop/layers/elu.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/elu.hpp>

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

ELU::ELU(double alpha) : alpha_(alpha) {
  const bool finite = std::isfinite(alpha) && std::abs(alpha) <= std::numeric_limits<float>::max();
  ops::check_value("ELU", finite, "alpha", alpha, "a number finite as a float");
}

std::string ELU::describe() const { return fmt::format("ELU(alpha={})", python_float(alpha_)); }

void ELU::forward(Recorder& rec, const LayerTensors& t, const PassState&) const {
  ops::elu_forward(rec, t.output, t.input, static_cast<float>(alpha_));
}

// The derivative is written with the input; the Model keeps every layer's input until backward.
void ELU::backward(Recorder& rec, const LayerTensors& t, const PassState&) const {
  if (!t.grad_input.slice.empty())
    ops::elu_backward(rec, t.grad_input, t.grad_output, t.input, static_cast<float>(alpha_));
}

}  // namespace vkdrop

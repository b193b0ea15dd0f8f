#include <vkdrop/layers/elu.hpp>

#include <vkdrop/layers/python_float.hpp>
#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/elu.hpp>

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace vkdrop {


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

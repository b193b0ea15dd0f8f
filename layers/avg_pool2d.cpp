#include <vkdrop/layers/avg_pool2d.hpp>

#include <vkdrop/ops/avg_pool2d.hpp>

#include <fmt/format.h>

namespace vkdrop {

std::string AvgPool2d::describe() const { return fmt::format("AvgPool2d({})", window_text()); }

void AvgPool2d::forward(Recorder& rec, const LayerTensors& t, const PassState&) const {
  ops::avg_pool2d_forward(rec, t.output, t.input, window());
}

// The gradient depends on dy alone: nothing is kept from the forward pass.
void AvgPool2d::backward(Recorder& rec, const LayerTensors& t, const PassState&) const {
  if (!t.grad_input.slice.empty()) ops::avg_pool2d_backward(rec, t.grad_input, t.grad_output, window());
}

}  // namespace vkdrop

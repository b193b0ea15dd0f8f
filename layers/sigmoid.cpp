#include <vkdrop/layers/sigmoid.hpp>

#include <vkdrop/ops/sigmoid.hpp>

namespace vkdrop {

void Sigmoid::forward(Recorder& rec, const LayerTensors& t, const PassState&) const {
  ops::sigmoid_forward(rec, t.output, t.input);
}

// The derivative is written with the output, y · (1 - y), so backward needs nothing else.
void Sigmoid::backward(Recorder& rec, const LayerTensors& t, const PassState&) const {
  if (!t.grad_input.slice.empty()) ops::sigmoid_backward(rec, t.grad_input, t.grad_output, t.output);
}

}  // namespace vkdrop

#include <vkdrop/layers/relu.hpp>

#include <vkdrop/ops/elementwise.hpp>

namespace vkdrop {

void ReLU::forward(Recorder& rec, const LayerTensors& t, const PassState&) const {
  ops::relu_forward(rec, t.output, t.input);
}

// The output tells where the input was positive, so backward needs nothing else.
void ReLU::backward(Recorder& rec, const LayerTensors& t, const PassState&) const {
  if (!t.grad_input.slice.empty()) ops::relu_backward(rec, t.grad_input, t.grad_output, t.output);
}

}  // namespace vkdrop

#include <vkdrop/layers/tanh.hpp>

#include <vkdrop/ops/tanh.hpp>

namespace vkdrop {

void Tanh::forward(Recorder& rec, const LayerTensors& t, const PassState&) const {
  ops::tanh_forward(rec, t.output, t.input);
}

// The derivative is written with the output, 1 - y², so backward needs nothing else.
void Tanh::backward(Recorder& rec, const LayerTensors& t, const PassState&) const {
  if (!t.grad_input.slice.empty()) ops::tanh_backward(rec, t.grad_input, t.grad_output, t.output);
}

}  // namespace vkdrop

#include <vkdrop/layers/relu.hpp>

#include <vkdrop/ops/dropout.hpp>
#include <vkdrop/ops/elementwise.hpp>

namespace vkdrop {

void ReLU::forward(Recorder& rec, const LayerTensors& t, const PassState& state) const {
  if (t.epilogue.dropout) {
    ops::relu_dropout_forward(rec, t.output, t.input, dropout_config(*t.epilogue.dropout, state), state.dropout,
                              *state.step);
  } else {
    ops::relu_forward(rec, t.output, t.input);
  }
}

// The output tells where the input was positive (and, with a dropout folded in, kept), so backward needs
// nothing else.
void ReLU::backward(Recorder& rec, const LayerTensors& t, const PassState& state) const {
  if (t.grad_input.slice.empty()) return;
  if (t.epilogue.dropout) {
    ops::relu_dropout_backward(rec, t.grad_input, t.grad_output, t.output, dropout_config(*t.epilogue.dropout, state));
  } else {
    ops::relu_backward(rec, t.grad_input, t.grad_output, t.output);
  }
}

}  // namespace vkdrop

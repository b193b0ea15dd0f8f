#include <vkdrop/layers/max_pool2d.hpp>

#include <vkdrop/ops/max_pool2d.hpp>

#include <fmt/format.h>

namespace vkdrop {

std::string MaxPool2d::describe() const {
  return fmt::format("MaxPool2d({}, dilation=1, ceil_mode=False)", window_text());
}

std::vector<BufferSpec> MaxPool2d::buffers(const Shape& input) const {
  return {BufferSpec::scratch("argmax", output_shape(input), DType::u32)};
}

// Eval runs the same pass: the choices it leaves in its own scratch are never read.
void MaxPool2d::forward(Recorder& rec, const LayerTensors& t, const PassState&) const {
  ops::max_pool2d_forward(rec, t.output, t.scratch[0], t.input, window());
}

void MaxPool2d::backward(Recorder& rec, const LayerTensors& t, const PassState&) const {
  if (!t.grad_input.slice.empty()) ops::max_pool2d_backward(rec, t.grad_input, t.grad_output, t.scratch[0], window());
}

}  // namespace vkdrop

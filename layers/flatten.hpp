#pragma once
// Flatten(start_dim=1, end_dim=-1), as torch.nn.Flatten: dimensions start_dim..end_dim become one, e.g.
// (N, 64, 7, 7) -> (N, 3136) between the convolutional and the dense part of a network. A view: the
// output is the input's memory under the new shape, so it costs no copy and no dispatch.

#include <vkdrop/layers/layer.hpp>

namespace vkdrop {

class Flatten : public Layer {
 public:
  // Negative dims count from the end, as in PyTorch. Dimension 0 (the batch) cannot be flattened away by
  // a model layer: start_dim must resolve to >= 1 (checked against the input in output_shape).
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_(start_dim), end_(end_dim) {}

  std::string describe() const override;
  Shape output_shape(const Shape& input) const override;
  bool is_view() const override { return true; }
  // A view records nothing: the Model binds the output to the input's memory.
  void forward(Recorder&, const LayerTensors&, const PassState&) const override {}
  void backward(Recorder&, const LayerTensors&, const PassState&) const override {}
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Flatten>(*this); }

 private:
  int64_t start_, end_;
};

}  // namespace vkdrop

#pragma once
// Sigmoid: y = 1 / (1 + e^-x), as torch.nn.Sigmoid.

#include <vkdrop/layers/layer.hpp>

namespace vkdrop {

class Sigmoid : public Layer {
 public:
  std::string describe() const override { return "Sigmoid()"; }
  Shape output_shape(const Shape& input) const override { return input; }
  void forward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  void backward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Sigmoid>(*this); }
};

}  // namespace vkdrop

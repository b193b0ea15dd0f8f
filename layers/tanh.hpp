#pragma once
// Tanh: y = tanh(x), as torch.nn.Tanh.

#include <vkdrop/layers/layer.hpp>

namespace vkdrop {

class Tanh : public Layer {
 public:
  std::string describe() const override { return "Tanh()"; }
  Shape output_shape(const Shape& input) const override { return input; }
  void forward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  void backward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Tanh>(*this); }
};

}  // namespace vkdrop

#pragma once
// LeakyReLU(negative_slope): y = x > 0 ? x : negative_slope · x, as torch.nn.LeakyReLU;
// LeakyReLU'(0) = negative_slope, as PyTorch.

#include <vkdrop/layers/layer.hpp>

namespace vkdrop {

class LeakyReLU : public Layer {
 public:
  // Throws ArgumentError unless negative_slope is finite as a float (the GPU computes in float).
  explicit LeakyReLU(double negative_slope = 0.01);

  std::string describe() const override;  // "LeakyReLU(negative_slope=0.01)"
  Shape output_shape(const Shape& input) const override { return input; }
  void forward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  void backward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  std::unique_ptr<Layer> clone() const override { return std::make_unique<LeakyReLU>(*this); }

  double negative_slope() const { return negative_slope_; }

 private:
  double negative_slope_;  // as given, for describe(); the GPU gets it as a float
};

}  // namespace vkdrop

#pragma once
// ELU(alpha): y = x <= 0 ? alpha · (e^x - 1) : x, as torch.nn.ELU (Clevert et al. 2015); ELU'(0) = alpha, as
// PyTorch.

#include <vkdrop/layers/layer.hpp>

namespace vkdrop {

class ELU : public Layer {
 public:
  // Throws ArgumentError unless alpha is finite as a float (the GPU computes in float).
  explicit ELU(double alpha = 1.0);

  std::string describe() const override;  // "ELU(alpha=1.0)"
  Shape output_shape(const Shape& input) const override { return input; }
  void forward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  void backward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  std::unique_ptr<Layer> clone() const override { return std::make_unique<ELU>(*this); }

  double alpha() const { return alpha_; }

 private:
  double alpha_;  // as given, for describe(); the GPU gets it as a float
};

}  // namespace vkdrop

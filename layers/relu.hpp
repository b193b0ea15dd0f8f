#pragma once
// ReLU: y = max(x, 0), as torch.nn.ReLU; ReLU'(0) = 0.

#include <vkdrop/layers/layer.hpp>

namespace vkdrop {

class ReLU : public Layer {
 public:
  std::string describe() const override { return "ReLU()"; }
  Shape output_shape(const Shape& input) const override { return input; }
  Epilogue as_epilogue() const override { return Epilogue{.relu = true}; }
  // A Dropout after it: ReLU'd and dropped in one pass each way.
  bool applies_epilogue(const Epilogue& e) const override { return !e.relu && e.dropout && !e.dropout2d; }
  void forward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  void backward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  std::unique_ptr<Layer> clone() const override { return std::make_unique<ReLU>(*this); }
};

}  // namespace vkdrop

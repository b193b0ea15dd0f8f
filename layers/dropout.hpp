#pragma once
// Dropout(p) and Dropout2d(p), as torch.nn.Dropout / torch.nn.Dropout2d: p is the probability to drop.
// Dropout drops elements; Dropout2d (SpatialDropout, Tompson et al. 2015) drops whole channels of an
// (N, C, H, W) or (N, C, L) input. In training the kept values are scaled by 1/(1-p) (inverted, PyTorch's
// default) or not at all (vanilla, Srivastava et al. 2014, which scales by (1-p) in eval instead).
// The mask is never stored: backward regenerates it from (seed, step, layer id, element).

#include <vkdrop/layers/layer.hpp>
#include <vkdrop/reference/dropout_scaling.hpp>

namespace vkdrop {

class Dropout : public Layer {
 public:
  // Throws ArgumentError unless 0 <= p <= 1.
  explicit Dropout(double p = 0.5, DropoutScaling scaling = DropoutScaling::Inverted);

  std::string describe() const override;
  Shape output_shape(const Shape& input) const override { return input; }
  void set_layer_id(uint32_t id) override { layer_id_ = id; }
  Epilogue as_epilogue() const override { return Epilogue{.dropout = DropoutEpilogue{p_, scaling_, layer_id_}}; }
  void forward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  void backward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Dropout>(*this); }

  double p() const { return p_; }
  DropoutScaling scaling() const { return scaling_; }
  uint32_t layer_id() const { return layer_id_; }

 protected:
  double p_;
  DropoutScaling scaling_;
  uint32_t layer_id_ = 0;
};

class Dropout2d : public Dropout {
 public:
  explicit Dropout2d(double p = 0.5, DropoutScaling scaling = DropoutScaling::Inverted) : Dropout(p, scaling) {}

  std::string describe() const override;
  Shape output_shape(const Shape& input) const override;
  Epilogue as_epilogue() const override { return Epilogue{.dropout2d = DropoutEpilogue{p_, scaling_, layer_id_}}; }
  void forward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  void backward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Dropout2d>(*this); }
};

}  // namespace vkdrop

#pragma once
// Linear(in, out): y = x·Wᵀ + b, as torch.nn.Linear (W: (out, in), b: (out)). Inputs (*, in): every
// leading dimension is a batch dimension, as in PyTorch.

#include <vkdrop/layers/layer.hpp>

namespace vkdrop {

class Linear : public Layer {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);

  std::string describe() const override;
  Shape output_shape(const Shape& input) const override;
  std::vector<BufferSpec> buffers(const Shape& input) const override;
  void initialize(std::span<std::vector<float>> values, std::mt19937_64& rng, Init init) const override;
  // A ReLU after it, and a Dropout after that, run in its product's epilogue (ops::MatmulEpilogue); so does the
  // backward of a ReLU (and Dropout) before it, in the product that makes grad_input.
  bool applies_epilogue(const Epilogue& e) const override { return e.relu && !e.dropout2d; }
  bool applies_input_epilogue_backward(const Epilogue& e) const override { return applies_epilogue(e); }
  bool takes_gradient_before_epilogue(const Epilogue& e) const override { return applies_epilogue(e); }
  void forward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  void backward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Linear>(*this); }

  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

 private:
  int64_t in_, out_;
  bool bias_;
};

}  // namespace vkdrop

#pragma once
// AvgPool2d(kernel_size, stride=kernel_size, padding=0), as torch.nn.AvgPool2d with ceil_mode=False and
// count_include_pad=True (PyTorch's defaults): the mean of each window, padding counting as zeros, so every
// output divides by kernel_size². Backward spreads each output's gradient evenly over its window.

#include <vkdrop/layers/pool2d.hpp>

namespace vkdrop {

class AvgPool2d : public Pool2d {
 public:
  // Throws ArgumentError unless kernel_size >= 1, stride >= 1 and 0 <= padding <= kernel_size / 2.
  explicit AvgPool2d(int64_t kernel_size, std::optional<int64_t> stride = std::nullopt, int64_t padding = 0)
      : Pool2d("AvgPool2d", kernel_size, stride, padding) {}

  std::string describe() const override;  // "AvgPool2d(kernel_size=2, stride=2, padding=0)"
  void forward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  void backward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  std::unique_ptr<Layer> clone() const override { return std::make_unique<AvgPool2d>(*this); }
};

}  // namespace vkdrop

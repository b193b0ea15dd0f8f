#pragma once
// MaxPool2d(kernel_size, stride=kernel_size, padding=0), as torch.nn.MaxPool2d with dilation 1 and
// ceil_mode=False: the maximum of each window, padding acting as −inf. Backward routes each output's gradient
// to the element it took, the first maximum in row-major window order (PyTorch's CPU kernel): forward keeps
// those choices in a u32 scratch buffer, and backward is a deterministic gather over them.

#include <vkdrop/layers/pool2d.hpp>

namespace vkdrop {

class MaxPool2d : public Pool2d {
 public:
  // Throws ArgumentError unless kernel_size >= 1, stride >= 1 and 0 <= padding <= kernel_size / 2.
  explicit MaxPool2d(int64_t kernel_size, std::optional<int64_t> stride = std::nullopt, int64_t padding = 0)
      : Pool2d("MaxPool2d", kernel_size, stride, padding) {}

  // "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
  std::string describe() const override;
  // argmax (the output's shape) u32: the plane-local index ih·W + iw each output took.
  std::vector<BufferSpec> buffers(const Shape& input) const override;
  void forward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  void backward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  std::unique_ptr<Layer> clone() const override { return std::make_unique<MaxPool2d>(*this); }
};

}  // namespace vkdrop

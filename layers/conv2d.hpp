#pragma once
// Conv2d(in, out, kernel_size, stride=1, padding=0, dilation=1, bias=true): a 2-D convolution over (N, C, H, W)
// inputs, as torch.nn.Conv2d with groups = 1 and zero padding. weight (out, in, KH, KW), bias (out).
// Each size is an int (the same for height and width) or a Pair {h, w}:
//
//   Conv2d(1, 32, 3, 1, 1)                 // 3x3, padding 1: the same height and width out
//   Conv2d(32, 64, {3, 5}, 2, {1, 2})      // a 3x5 kernel, stride 2, padding (1, 2)
//
// Runs as im2col + matmul (ops/conv2d.hpp); declares two scratch buffers per batch size: the im2col matrix
// "cols" (N·OH·OW, in·KH·KW), which backward reuses for the weight gradient and then overwrites with the
// input gradient's columns, and "rows" (out, N·OH·OW), the product in channel-major layout. A model whose
// cols exceed maxStorageBufferRange is refused when built, naming this layer: a smaller batch size (or
// eval_batch_size) fits.

#include <vkdrop/layers/layer.hpp>
#include <vkdrop/reference/conv2d.hpp>

namespace vkdrop {

class Conv2d : public Layer {
 public:
  // Throws ArgumentError for channel counts below 1, a kernel, stride or dilation below 1, or negative padding.
  Conv2d(int64_t in_channels, int64_t out_channels, Pair kernel_size, Pair stride = 1, Pair padding = 0,
         Pair dilation = 1, bool bias = true);

  // "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))": PyTorch omits padding when it is 0,
  // dilation when it is 1, and says ", bias=False" only without a bias.
  std::string describe() const override;
  // (N, in, H, W) -> (N, out, OH, OW). Throws ShapeError for another rank, another channel count, or a kernel
  // larger than the padded input (an output below 1x1).
  Shape output_shape(const Shape& input) const override;
  std::vector<BufferSpec> buffers(const Shape& input) const override;
  void initialize(std::span<std::vector<float>> values, std::mt19937_64& rng, Init init) const override;
  void forward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  void backward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Conv2d>(*this); }

  int64_t in_channels() const { return in_; }
  int64_t out_channels() const { return out_; }
  const Conv2dGeometry& geometry() const { return geometry_; }

 private:
  int64_t in_, out_;
  Conv2dGeometry geometry_;
  bool bias_;
};

}  // namespace vkdrop

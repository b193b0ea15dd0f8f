#pragma once
// What MaxPool2d and AvgPool2d share: a square window kernel_size × kernel_size moved by `stride` (by default
// kernel_size) over an input padded by `padding` on every side, checked when the layer is built, and the
// output shape (N, C, OH, OW) for an input (N, C, H, W) (or (C, H, W), which PyTorch reads as one unbatched
// image: the same numbers), OH = (H + 2·padding − kernel_size) / stride + 1 rounded down (ceil_mode=False).

#include <vkdrop/layers/layer.hpp>
#include <vkdrop/reference/pool2d.hpp>

#include <optional>

namespace vkdrop {

class Pool2d : public Layer {
 public:
  // Throws ShapeError naming the layer for a rank other than 3 or 4, or a plane smaller than the window.
  Shape output_shape(const Shape& input) const override;

  int64_t kernel_size() const { return window_.kernel_h; }
  int64_t stride() const { return window_.stride_h; }
  int64_t padding() const { return window_.pad_h; }
  const ref::Pool2dWindow& window() const { return window_; }

 protected:
  // Throws ArgumentError naming `layer` unless kernel_size >= 1, stride >= 1 and 0 <= padding <= kernel_size / 2
  // (PyTorch's limit).
  Pool2d(const char* layer, int64_t kernel_size, std::optional<int64_t> stride, int64_t padding);
  // "kernel_size=2, stride=2, padding=0", as PyTorch prints these three.
  std::string window_text() const;

 private:
  ref::Pool2dWindow window_;
};

}  // namespace vkdrop

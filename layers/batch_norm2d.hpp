#pragma once
// BatchNorm2d(num_features, eps=1e-5, momentum=0.1), as torch.nn.BatchNorm2d with affine=True and
// track_running_stats=True, on (N, C, H, W): each channel normalised over its N·H·W values (Ioffe & Szegedy
// 2015). See layers/batch_norm.hpp for the parameters, state and modes.

#include <vkdrop/layers/batch_norm.hpp>

namespace vkdrop {

class BatchNorm2d : public BatchNorm {
 public:
  // Throws ArgumentError unless num_features >= 1, eps >= 0 (finite) and momentum is in [0, 1].
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1)
      : BatchNorm("BatchNorm2d", {4}, "(N, C, H, W)", num_features, eps, momentum) {}
  std::unique_ptr<Layer> clone() const override { return std::make_unique<BatchNorm2d>(*this); }
};

}  // namespace vkdrop

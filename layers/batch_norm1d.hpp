#pragma once
// BatchNorm1d(num_features, eps=1e-5, momentum=0.1), as torch.nn.BatchNorm1d with affine=True and
// track_running_stats=True, on (N, C) (each feature normalised over the batch) or (N, C, L) (each channel over
// its N·L values). See layers/batch_norm.hpp for the parameters, state and modes.

#include <vkdrop/layers/batch_norm.hpp>

namespace vkdrop {

class BatchNorm1d : public BatchNorm {
 public:
  // Throws ArgumentError unless num_features >= 1, eps >= 0 (finite) and momentum is in [0, 1].
  explicit BatchNorm1d(int64_t num_features, double eps = 1e-5, double momentum = 0.1)
      : BatchNorm("BatchNorm1d", {2, 3}, "(N, C) or (N, C, L)", num_features, eps, momentum) {}
  std::unique_ptr<Layer> clone() const override { return std::make_unique<BatchNorm1d>(*this); }
};

}  // namespace vkdrop

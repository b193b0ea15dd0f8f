#pragma once
// torch.optim.SGD: the learning rate and momentum come from the Schedule (device-side, every step).

#include <vkdrop/train/optimizer.hpp>

namespace vkdrop {

class SGD : public Optimizer {
 public:
  SGD(double weight_decay_ = 0, bool nesterov_ = false) : weight_decay(weight_decay_), nesterov(nesterov_) {}  // NOLINT

  std::string name() const override { return "SGD"; }
  void validate() const override;
  std::vector<std::string> state_names() const override { return {"momentum_buffer"}; }
  void record_step(Recorder& rec, const OptimizerTensors& t) const override;
  std::unique_ptr<Optimizer> clone() const override { return std::make_unique<SGD>(*this); }

  double weight_decay;
  bool nesterov;
};

}  // namespace vkdrop

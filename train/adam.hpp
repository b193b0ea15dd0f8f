#pragma once
// torch.optim.Adam, and AdamW (decoupled = true): the learning rate comes from the Schedule.

#include <vkdrop/train/optimizer.hpp>

namespace vkdrop {

class Adam : public Optimizer {
 public:
  Adam(double beta1_ = 0.9, double beta2_ = 0.999, double eps_ = 1e-8, double weight_decay_ = 0,  // NOLINT
       bool decoupled_ = false)
      : beta1(beta1_), beta2(beta2_), eps(eps_), weight_decay(weight_decay_), decoupled(decoupled_) {}

  // Adam and AdamW keep the same state, so checkpoints name both "Adam" (as earlier versions did).
  std::string name() const override { return "Adam"; }
  void validate() const override;
  std::vector<std::string> state_names() const override { return {"exp_avg", "exp_avg_sq"}; }
  void record_step(Recorder& rec, const OptimizerTensors& t) const override;
  std::unique_ptr<Optimizer> clone() const override { return std::make_unique<Adam>(*this); }

  double beta1, beta2, eps, weight_decay;
  bool decoupled;
};

}  // namespace vkdrop

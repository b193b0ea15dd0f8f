#include <vkdrop/train/adam.hpp>

#include <vkdrop/ops/optimizers.hpp>

namespace vkdrop {

namespace {
ops::AdamConfig config_of(const Adam& adam) {
  return {adam.beta1, adam.beta2, static_cast<float>(adam.eps), static_cast<float>(adam.weight_decay), adam.decoupled};
}
}  // namespace

void Adam::validate() const { ops::check_config(config_of(*this)); }

void Adam::record_step(Recorder& rec, const OptimizerTensors& t) const {
  ops::adam_step(rec, t.parameters, t.gradients, t.state[0], t.state[1], t.hyper, t.step, config_of(*this));
  record_max_norm(rec, t);
}

}  // namespace vkdrop

#include <vkdrop/train/sgd.hpp>

#include <vkdrop/ops/optimizers.hpp>

namespace vkdrop {

namespace {
ops::SgdConfig config_of(const SGD& sgd) { return {static_cast<float>(sgd.weight_decay), sgd.nesterov}; }
}  // namespace

void SGD::validate() const { ops::check_config(config_of(*this)); }

void SGD::record_step(Recorder& rec, const OptimizerTensors& t) const {
  ops::sgd_step(rec, t.parameters, t.gradients, t.state[0], t.hyper, config_of(*this));
}

}  // namespace vkdrop

#include <vkdrop/ops/schedule.hpp>

#include <vkdrop/ops/arguments.hpp>

#include <vkdrop/runtime/context.hpp>

namespace vkdrop::ops {

void schedule(Recorder& rec, const Tensor& hyper, const Tensor& step, const Schedule& s) {
  s.validate();
  check_tensor("schedule", {"hyper", hyper}, {4}, DType::f32, "[lr, momentum, unused, unused]");
  check_counter("schedule", {"step", step});
  struct Params {
    uint32_t decay, steps_per_epoch, step_epochs, total_epochs;
    float lr, gamma, lr_min, momentum, momentum_start, ramp_epochs;
  } params{static_cast<uint32_t>(s.decay),     s.steps_per_epoch,
           s.step_epochs,                      s.total_epochs,
           static_cast<float>(s.lr),           static_cast<float>(s.gamma),
           static_cast<float>(s.lr_min),       static_cast<float>(s.momentum),
           static_cast<float>(s.momentum_start), static_cast<float>(s.ramp_epochs)};
  rec.dispatch(rec.context().kernel("schedule"), {step.slice, hyper.slice}, params, {1, 1, 1}, "schedule");
}

}  // namespace vkdrop::ops

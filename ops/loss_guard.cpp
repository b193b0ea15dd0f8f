#include <vkdrop/ops/loss_guard.hpp>

#include <vkdrop/ops/arguments.hpp>

#include <vkdrop/runtime/context.hpp>

namespace vkdrop::ops {

void loss_guard(Recorder& rec, const Tensor& first_bad, const Tensor& totals, const Tensor& step) {
  constexpr const char* op = "loss_guard";
  check_counter(op, {"first_bad", first_bad});
  check_tensor(op, {"totals", totals}, {4}, DType::f32, "[Σ loss, Σ correct, rows, unused]");
  check_counter(op, {"step", step});
  rec.dispatch(rec.context().kernel("loss_guard"), {totals.slice, step.slice, first_bad.slice}, {1, 1, 1},
               "loss guard");
}

}  // namespace vkdrop::ops

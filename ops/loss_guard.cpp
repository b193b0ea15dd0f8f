#include "ops/loss_guard.hpp"

#include "runtime/context.hpp"

namespace vkdrop::ops {

void loss_guard(Recorder& rec, const Tensor& first_bad, const Tensor& totals, const Tensor& step) {
  expect_shape(first_bad, {2}, "loss_guard");
  expect_shape(totals, {4}, "loss_guard");
  expect_shape(step, {2}, "loss_guard");
  rec.dispatch(rec.context().kernel("loss_guard"), {totals.slice, step.slice, first_bad.slice}, {1, 1, 1},
               "loss guard");
}

}  // namespace vkdrop::ops

#include "ops/softmax.hpp"

#include "runtime/context.hpp"

#include "ops/launch.hpp"

namespace vkdrop::ops {

void softmax(Recorder& rec, const Tensor& probs, const Tensor& logits, SoftmaxOutput output) {
  if (logits.rank() != 2) throw ShapeError("softmax: logits must be (rows, classes), got " + shape_text(logits.shape));
  expect_shape(probs, logits.shape, "softmax");
  const int64_t rows = logits.dim(0);
  const uint32_t local = 64;
  struct Params {
    uint32_t rows, classes, accumulate;
  } params{to_u32(rows, "softmax"), to_u32(logits.dim(1), "softmax"), output == SoftmaxOutput::Accumulate ? 1u : 0u};
  rec.dispatch(rec.context().kernel("softmax", std::vector<uint32_t>{local}), {logits.slice, probs.slice}, params,
               {static_cast<uint32_t>((rows + local - 1) / local), 1, 1},
               output == SoftmaxOutput::Accumulate ? "softmax (accumulate)" : "softmax");
}

}  // namespace vkdrop::ops

#include <vkdrop/ops/softmax.hpp>

#include <vkdrop/runtime/context.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/tuning.hpp>

namespace vkdrop::ops {

void softmax(Recorder& rec, const Tensor& probs, const Tensor& logits, SoftmaxOutput output) {
  constexpr const char* op = "softmax";
  check_rank(op, {"logits", logits}, {2}, "(rows, classes)");
  check_dtype(op, {"logits", logits}, DType::f32);
  check_tensor(op, {"probs", probs}, logits.shape, DType::f32, "as logits");
  check_disjoint(op, {{"probs", probs}, {"logits", logits}});
  const int64_t rows = logits.dim(0);
  const uint32_t local = elementwise_workgroup(rec.context().info());
  struct Params {
    uint32_t rows, classes, accumulate;
  } params{to_u32(rows, "softmax"), to_u32(logits.dim(1), "softmax"), output == SoftmaxOutput::Accumulate ? 1u : 0u};
  rec.dispatch(rec.context().kernel("softmax", std::vector<uint32_t>{local}), {logits.slice, probs.slice}, params,
               {static_cast<uint32_t>((rows + local - 1) / local), 1, 1},
               output == SoftmaxOutput::Accumulate ? "softmax (accumulate)" : "softmax");
}

}  // namespace vkdrop::ops

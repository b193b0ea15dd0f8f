// Softmax cross-entropy and the metric sums: argument checks and dispatch sizing. The math is in
// shaders/softmax_xent.comp and shaders/metrics_accumulate.comp.
#include <vkdrop/ops/softmax_xent.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <string>
#include <vector>

namespace vkdrop::ops {

namespace {


}  // namespace

void softmax_xent(Recorder& rec, const Tensor& dlogits, const Tensor& row_loss, const Tensor& row_correct,
                  const Tensor& logits, const Tensor& labels, const Tensor& status) {
  constexpr const char* op = "softmax_xent";
  check_rank(op, {"logits", logits}, {2}, "(B, C)");
  const int64_t B = logits.dim(0), C = logits.dim(1);
  const std::string rows = fmt::format("one per row of logits {}", shape_text(logits.shape));
  check_dtype(op, {"logits", logits}, DType::f32);
  check_tensor(op, {"labels", labels}, {B}, DType::i32, rows);
  check_tensor(op, {"row_loss", row_loss}, {B}, DType::f32, rows);
  check_tensor(op, {"row_correct", row_correct}, {B}, DType::u32, rows);
  check_tensor(op, {"status", status}, {1}, DType::u32, "one word of flags");
  const bool gradient = dlogits.numel() > 0;
  if (gradient) check_tensor(op, {"dlogits", dlogits}, logits.shape, DType::f32, "the shape of logits, or empty");
  if (B > 0 && C == 0) {
    throw ArgumentError(fmt::format("{}: logits '{}' has shape {}: cross-entropy needs at least one class", op,
                                    logits.name, shape_text(logits.shape)));
  }
  // The shader assumes its outputs do not alias its inputs.
  if (gradient) check_disjoint(op, {{"dlogits", dlogits}, {"logits", logits}});
  for (const Arg out : {Arg{"row_loss", row_loss}, Arg{"row_correct", row_correct}}) {
    check_disjoint(op, {out, {"logits", logits}, {"labels", labels}});
  }
  if (B == 0) return;

  const DeviceInfo& device = rec.context().info();
  const uint32_t workgroup = row_workgroup(C, device);
  const Kernel& kernel =
      rec.context().kernel("softmax_xent", std::vector<uint32_t>{workgroup, gradient ? 1u : 0u});
  struct Params {
    uint32_t B, C;
  } params{to_u32(B, op), to_u32(C, op)};
  to_u32(B * C, op);  // the shader indexes row * C + j in 32 bits
  const std::array<uint32_t, 3> groups{std::min(params.B, device.max_workgroup_count[0]), 1, 1};
  // Without a gradient the shader never touches binding 0, but a binding cannot be empty: row_loss stands in.
  rec.dispatch(kernel, {gradient ? dlogits.slice : row_loss.slice, row_loss.slice, row_correct.slice, logits.slice,
                        labels.slice, status.slice},
               params, groups, gradient ? "softmax_xent" : "softmax_xent (no gradient)");
}

void accumulate_metrics(Recorder& rec, const Tensor& totals, const Tensor& row_loss, const Tensor& row_correct) {
  constexpr const char* op = "accumulate_metrics";
  check_rank(op, {"row_loss", row_loss}, {1}, "(B)");
  const int64_t B = row_loss.dim(0);
  check_dtype(op, {"row_loss", row_loss}, DType::f32);
  check_tensor(op, {"row_correct", row_correct}, {B}, DType::u32,
               fmt::format("one per row, as row_loss {}", shape_text(row_loss.shape)));
  check_tensor(op, {"totals", totals}, {4}, DType::f32, "[Σ loss, Σ correct, rows, unused]");
  if (B == 0) return;
  const DeviceInfo& device = rec.context().info();
  // One group, as wide as rows allow (up to the element-wise width): the B rows are few.
  const uint32_t workgroup = row_workgroup(B, device);
  rec.dispatch(rec.context().kernel("metrics_accumulate", std::vector<uint32_t>{workgroup}),
               {totals.slice, row_loss.slice, row_correct.slice}, to_u32(B, op), {1, 1, 1}, "accumulate_metrics");
}

}  // namespace vkdrop::ops

#include <vkdrop/ops/batch.hpp>

#include <vkdrop/runtime/context.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

namespace vkdrop::ops {

void gather_batch(Recorder& rec, const Tensor& x, const Tensor& labels_out, const Tensor& images,
                  const Tensor& labels, const Tensor& order, const Tensor& pos, float scale) {
  constexpr const char* op = "gather_batch";
  check_dtype(op, {"images", images}, DType::u8);
  if (images.rank() < 2) check_rank(op, {"images", images}, {2}, "(count, sample...)");
  check_dtype(op, {"x", x}, DType::f32);
  if (x.rank() < 1) check_rank(op, {"x", x}, {2}, "(batch, sample...)");
  const int64_t count = images.dim(0), batch = x.dim(0);
  // x is (batch, sample...) for images (count, sample...): a sample of any shape, e.g. (C, H, W).
  Shape x_shape = images.shape;
  x_shape[0] = batch;
  check_shape(op, {"x", x}, x_shape, fmt::format("a batch of samples of images {}", shape_text(images.shape)));
  const int64_t features = count == 0 ? 0 : images.numel() / count;
  check_tensor(op, {"labels_out", labels_out}, {batch}, DType::i32, "one per row of x");
  check_tensor(op, {"labels", labels}, {count}, DType::u8, "one per image");
  check_tensor(op, {"order", order}, {count}, DType::u32, "a permutation of the images");
  check_counter(op, {"pos", pos});
  if (count == 0) throw ArgumentError("gather_batch: the dataset is empty");
  const DeviceInfo& device = rec.context().info();
  const uint32_t local = elementwise_workgroup(device);
  struct Params {
    uint32_t count, features, batch;
    float scale;
  } params{to_u32(count, "gather_batch"), to_u32(features, "gather_batch"), to_u32(batch, "gather_batch"), scale};
  // Quads of bytes through texel buffers where they fit one (see gather_batch.comp); placeholders stand in for
  // the bindings the other way does not read.
  const bool by_quads = features % 4 == 0 && features > 0 && images.numel() / 4 <= device.max_texel_buffer_elements &&
                        count <= device.max_texel_buffer_elements;
  Context& ctx = rec.context();
  const BufferSlice& unread = ctx.placeholder();
  rec.dispatch(ctx.kernel("gather_batch", std::vector<uint32_t>{local, by_quads ? 1u : 0u}),
               {images.slice, labels.slice, order.slice, pos.slice, x.slice, labels_out.slice,
                by_quads ? images.slice : unread, by_quads ? order.slice : unread, by_quads ? x.slice : unread},
               params, groups_1d(by_quads ? batch * features / 4 : batch * features, local, device),
               by_quads ? "gather batch (quads)" : "gather batch");
}

void mask_rows(Recorder& rec, const Tensor& row_loss, const Tensor& row_correct, const Tensor& pos, int64_t count) {
  constexpr const char* op = "mask_rows";
  check_rank(op, {"row_loss", row_loss}, {1}, "(batch)");
  const int64_t batch = row_loss.numel();
  check_tensor(op, {"row_correct", row_correct}, {batch}, DType::u32, "one per row");
  check_counter(op, {"pos", pos});
  const DeviceInfo& device = rec.context().info();
  const uint32_t local = elementwise_workgroup(device);
  struct Params {
    uint32_t count, batch;
  } params{to_u32(count, "mask_rows"), to_u32(batch, "mask_rows")};
  rec.dispatch(rec.context().kernel("mask_rows", std::vector<uint32_t>{local}),
               {pos.slice, row_loss.slice, row_correct.slice}, params, {static_cast<uint32_t>((batch + local - 1) / local), 1, 1},
               "mask padded rows");
}

}  // namespace vkdrop::ops

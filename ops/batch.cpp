#include "ops/batch.hpp"

#include "runtime/context.hpp"

#include "ops/launch.hpp"
#include "runtime/error.hpp"

#include <fmt/format.h>

namespace vkdrop::ops {

void gather_batch(Recorder& rec, const Tensor& x, const Tensor& labels_out, const Tensor& images,
                  const Tensor& labels, const Tensor& order, const Tensor& pos, float scale) {
  if (images.rank() < 2 || images.dtype != DType::u8) {
    throw ShapeError(fmt::format("gather_batch: images must be u8 of shape (count, features...), got {} {}",
                                 dtype_name(images.dtype), shape_text(images.shape)));
  }
  const int64_t count = images.dim(0), features = images.numel() / std::max<int64_t>(count, 1);
  if (x.rank() != 2 || x.dim(1) != features) {
    throw ShapeError(fmt::format("gather_batch: x {} must be (batch, {}) for images {}", shape_text(x.shape), features,
                                 shape_text(images.shape)));
  }
  const int64_t batch = x.dim(0);
  expect_shape(labels_out, {batch}, "gather_batch");
  expect_shape(labels, {count}, "gather_batch");
  expect_shape(order, {count}, "gather_batch");
  expect_shape(pos, {2}, "gather_batch");
  if (count == 0) throw ArgumentError("gather_batch: the dataset is empty");
  const DeviceInfo& device = rec.context().info();
  const uint32_t local = elementwise_workgroup(device);
  struct Params {
    uint32_t count, features, batch;
    float scale;
  } params{to_u32(count, "gather_batch"), to_u32(features, "gather_batch"), to_u32(batch, "gather_batch"), scale};
  rec.dispatch(rec.context().kernel("gather_batch", std::vector<uint32_t>{local}),
               {images.slice, labels.slice, order.slice, pos.slice, x.slice, labels_out.slice}, params,
               groups_1d(batch * features, local, device), "gather batch");
}

void mask_rows(Recorder& rec, const Tensor& row_loss, const Tensor& row_correct, const Tensor& pos, int64_t count) {
  const int64_t batch = row_loss.numel();
  expect_shape(row_correct, {batch}, "mask_rows");
  expect_shape(pos, {2}, "mask_rows");
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

#pragma once
// A labelled data set resident on the device as bytes: uploaded once, then every batch is gathered and
// converted to f32 on the device (ops/batch.hpp). MNIST's 60000 training images are 47 MB this way,
// under lavapipe's 128 MiB per binding, where as f32 they would be 188 MB.

#include <vkdrop/runtime/arena.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace vkdrop {

class Context;
struct MnistSplit;

class DeviceDataset {
 public:
  // images: (count, sample_shape...) bytes; labels: (count) class indices; a sample's f32 value is
  // byte * scale. Throws ShapeError if the sizes disagree.
  DeviceDataset(Context& context, std::span<const uint8_t> images, Shape sample_shape, std::span<const uint8_t> labels,
                std::string name, float scale = 1.0f / 255.0f);
  // MNIST images as samples of `sample_shape`: (784) vectors for an MLP by default, (1, 28, 28) for a
  // convolutional net; any shape of rows * cols elements. Throws ShapeError for another element count.
  static DeviceDataset mnist(Context& context, const MnistSplit& split, const std::string& name,
                             Shape sample_shape = {});

  const Tensor& images() const { return images_; }  // (count, sample...) u8
  const Tensor& labels() const { return labels_; }  // (count) u8
  int64_t count() const { return count_; }
  const Shape& sample_shape() const { return sample_shape_; }
  const std::string& name() const { return name_; }
  float scale() const { return scale_; }
  uint64_t id() const { return id_; }  // unique per data set in this process
  // Expires when this data set (its device memory) is gone: what a Model recorded for it is then dropped.
  std::weak_ptr<const void> lifetime() const { return lifetime_; }

 private:
  Arena arena_;
  Tensor images_, labels_;
  int64_t count_;
  Shape sample_shape_;
  std::string name_;
  float scale_;
  uint64_t id_;
  std::shared_ptr<const int> lifetime_ = std::make_shared<const int>(0);
};

}  // namespace vkdrop

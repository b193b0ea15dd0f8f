#include <vkdrop/datasets/device_dataset.hpp>

#include <vkdrop/datasets/mnist.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

#include <atomic>

namespace vkdrop {

namespace {
std::atomic<uint64_t> g_next_id{1};
}

DeviceDataset::DeviceDataset(Context& context, std::span<const uint8_t> images, Shape sample_shape,
                             std::span<const uint8_t> labels, std::string name, float scale)
    : arena_(context, 16ull << 20),
      count_(static_cast<int64_t>(labels.size())),
      sample_shape_(std::move(sample_shape)),
      name_(std::move(name)),
      scale_(scale),
      id_(g_next_id++) {
  const int64_t features = element_count(sample_shape_);
  if (static_cast<int64_t>(images.size()) != count_ * features) {
    throw ShapeError(fmt::format("{}: {} image bytes for {} labels of samples {} ({} bytes each)", name_, images.size(),
                                 count_, shape_text(sample_shape_), features));
  }
  Shape shape{count_};
  shape.insert(shape.end(), sample_shape_.begin(), sample_shape_.end());
  images_ = make_tensor(arena_, shape, DType::u8, name_ + " images");
  labels_ = make_tensor(arena_, {count_}, DType::u8, name_ + " labels");
  upload(context, images_, images);
  upload(context, labels_, labels);
}

DeviceDataset DeviceDataset::mnist(Context& context, const MnistSplit& split, const std::string& name,
                                   Shape sample_shape) {
  const int64_t pixels = static_cast<int64_t>(split.rows) * split.cols;
  if (sample_shape.empty()) sample_shape = {pixels};
  if (element_count(sample_shape) != pixels) {
    throw ShapeError(fmt::format("{}: MNIST samples have {} x {} = {} pixels, which do not fill samples of shape {}",
                                 name, split.rows, split.cols, pixels, shape_text(sample_shape)));
  }
  return DeviceDataset(context, split.images, std::move(sample_shape), split.labels, name);
}

}  // namespace vkdrop

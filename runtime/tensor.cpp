#include <vkdrop/runtime/tensor.hpp>

#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

namespace vkdrop {

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::i32: return "i32";
    case DType::u32: return "u32";
    case DType::u8: return "u8";
  }
  return "?";
}

uint64_t dtype_bytes(DType dtype) { return dtype == DType::u8 ? 1 : 4; }

std::string shape_text(const Shape& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) text += fmt::format("{}{}", i ? ", " : "", shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

Shape with_batch(int64_t batch, const Shape& sample) {
  Shape shape{batch};
  shape.insert(shape.end(), sample.begin(), sample.end());
  return shape;
}

int64_t element_count(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Tensor reshaped(const Tensor& t, Shape shape) {
  if (element_count(shape) != t.numel()) {
    throw ShapeError(fmt::format("{} {} cannot be viewed as {}: {} elements, not {}", t.name, shape_text(t.shape),
                                 shape_text(shape), t.numel(), element_count(shape)));
  }
  return Tensor{t.slice, std::move(shape), t.dtype, t.name};
}

Tensor make_tensor(Arena& arena, Shape shape, DType dtype, const std::string& name) {
  for (int64_t d : shape) {
    if (d < 0) throw ShapeError(fmt::format("{}: negative dimension in shape {}", name, shape_text(shape)));
  }
  Tensor t{BufferSlice{}, std::move(shape), dtype, name};
  const uint64_t bytes = (t.bytes() + 3) / 4 * 4;
  t.slice = arena.allocate(bytes, fmt::format("{} {}", name, shape_text(t.shape)));
  t.slice.size = bytes;
  return t;
}

namespace {

template <typename T>
void upload_typed(Context& context, const Tensor& dst, std::span<const T> values, DType expected) {
  if (dst.dtype != expected) {
    throw ArgumentError(fmt::format("upload to {}: tensor is {}, values are {}", dst.name, dtype_name(dst.dtype),
                                    dtype_name(expected)));
  }
  if (static_cast<int64_t>(values.size()) != dst.numel()) {
    throw ShapeError(fmt::format("upload to {} {}: expected {} values, got {}", dst.name, shape_text(dst.shape),
                                 dst.numel(), values.size()));
  }
  context.upload(dst.slice, values.data(), values.size_bytes());
}

template <typename T>
std::vector<T> download_typed(Context& context, const Tensor& src, DType expected) {
  if (src.dtype != expected) {
    throw ArgumentError(fmt::format("download of {}: tensor is {}, asked for {}", src.name, dtype_name(src.dtype),
                                    dtype_name(expected)));
  }
  std::vector<T> values(static_cast<size_t>(src.numel()));
  context.download(values.data(), src.slice, values.size() * sizeof(T));
  return values;
}

}  // namespace

void upload(Context& c, const Tensor& t, std::span<const float> v) { upload_typed(c, t, v, DType::f32); }
void upload(Context& c, const Tensor& t, std::span<const int32_t> v) { upload_typed(c, t, v, DType::i32); }
void upload(Context& c, const Tensor& t, std::span<const uint32_t> v) { upload_typed(c, t, v, DType::u32); }
void upload(Context& c, const Tensor& t, std::span<const uint8_t> v) { upload_typed(c, t, v, DType::u8); }
std::vector<float> download_f32(Context& c, const Tensor& t) { return download_typed<float>(c, t, DType::f32); }
std::vector<int32_t> download_i32(Context& c, const Tensor& t) { return download_typed<int32_t>(c, t, DType::i32); }
std::vector<uint32_t> download_u32(Context& c, const Tensor& t) { return download_typed<uint32_t>(c, t, DType::u32); }

void expect_shape(const Tensor& tensor, const Shape& shape, const std::string& what) {
  if (tensor.shape != shape) {
    throw ShapeError(fmt::format("{}: expected {} of shape {}, got {}", what, tensor.name, shape_text(shape),
                                 shape_text(tensor.shape)));
  }
}

}  // namespace vkdrop

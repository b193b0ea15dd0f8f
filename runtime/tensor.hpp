#pragma once
// A tensor is a typed, shaped view of an arena slice. It owns nothing: the arena does.

#include <vkdrop/runtime/arena.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace vkdrop {

enum class DType : uint8_t { f32, i32, u32, u8 };

const char* dtype_name(DType dtype);
uint64_t dtype_bytes(DType dtype);

using Shape = std::vector<int64_t>;
std::string shape_text(const Shape& shape);  // "(128, 784)"
int64_t element_count(const Shape& shape);
// (batch, sample...): the shape of a batch of samples.
Shape with_batch(int64_t batch, const Shape& sample);

struct Tensor {
  BufferSlice slice;
  Shape shape;
  DType dtype = DType::f32;
  std::string name;

  int64_t numel() const { return element_count(shape); }
  uint64_t bytes() const { return static_cast<uint64_t>(numel()) * dtype_bytes(dtype); }
  int64_t dim(size_t i) const { return shape.at(i); }
  size_t rank() const { return shape.size(); }
};

// The same memory under another shape with the same element count (a free view: Flatten, a matrix view of
// an (N, ..., features) activation). Throws ShapeError if the counts differ.
Tensor reshaped(const Tensor& t, Shape shape);

// A tensor of `shape` in `arena`. u8 tensors are padded to a multiple of 4 bytes so shaders can read them
// as uint words.
Tensor make_tensor(Arena& arena, Shape shape, DType dtype = DType::f32, const std::string& name = "tensor");

// Host <-> device copies through the context's staging buffer; sizes are checked against the tensor.
void upload(Context& context, const Tensor& dst, std::span<const float> values);
void upload(Context& context, const Tensor& dst, std::span<const int32_t> values);
void upload(Context& context, const Tensor& dst, std::span<const uint32_t> values);
void upload(Context& context, const Tensor& dst, std::span<const uint8_t> values);
std::vector<float> download_f32(Context& context, const Tensor& src);
std::vector<int32_t> download_i32(Context& context, const Tensor& src);
std::vector<uint32_t> download_u32(Context& context, const Tensor& src);

// Throws ShapeError "<what>: expected <tensor> of shape (..), got (..)" unless the shape matches.
void expect_shape(const Tensor& tensor, const Shape& shape, const std::string& what);

}  // namespace vkdrop

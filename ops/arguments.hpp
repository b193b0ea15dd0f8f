#pragma once
// Argument checks the ops share, with messages that name the op, the argument and both shapes.

#include "runtime/error.hpp"
#include "runtime/tensor.hpp"

#include <fmt/format.h>

#include <string>

namespace vkdrop::ops {

// Throws ShapeError unless `tensor` (the argument `role` of `op`) has `shape`, ArgumentError unless its
// elements are `dtype`. `why` says where the expected shape comes from.
inline void check_tensor(const char* op, const char* role, const Tensor& tensor, const Shape& shape, DType dtype,
                  const std::string& why) {
  if (tensor.shape != shape) {
    throw ShapeError(fmt::format("{}: {} '{}' has shape {}, expected {} ({})", op, role, tensor.name,
                                 shape_text(tensor.shape), shape_text(shape), why));
  }
  if (tensor.dtype != dtype) {
    throw ArgumentError(fmt::format("{}: {} '{}' is {}, expected {}", op, role, tensor.name,
                                    dtype_name(tensor.dtype), dtype_name(dtype)));
  }
}

}  // namespace vkdrop::ops

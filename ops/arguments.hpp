#pragma once
// The one argument checker every op uses, so every refusal reads the same way:
//   "<op>: <role> '<tensor name>' has shape (..), expected (..) (<why>)"
// Shapes are ShapeErrors; dtypes, aliasing and bad values are ArgumentErrors.

#include <vkdrop/runtime/tensor.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

namespace vkdrop::ops {

// A tensor argument with the role it plays in the op ("x", "dy", "weight").
struct Arg {
  const char* role;
  const Tensor& tensor;
};

void check_dtype(const char* op, Arg arg, DType dtype);
// `why` says where the expected shape comes from ("as x", "[lr, momentum, unused, unused]").
void check_shape(const char* op, Arg arg, const Shape& shape, const std::string& why);
// Both of the above.
void check_tensor(const char* op, Arg arg, const Shape& shape, DType dtype, const std::string& why);
// Same shape as `like` (any shape).
void check_same_shape(const char* op, Arg arg, Arg like);
// rank() is one of `ranks`; `layout` names them for the message, e.g. "(N, C, H, W) or (N, C, L)".
void check_rank(const char* op, Arg arg, std::initializer_list<size_t> ranks, const char* layout);
// A u32 (2) device counter: the 64-bit step or position, low word first.
void check_counter(const char* op, Arg arg);
// An element-wise output may be its input (in place) or separate memory, never a partial overlap: an
// invocation would then read an element another one has already written.
void check_in_place_or_disjoint(const char* op, Arg out, Arg in);
// No two of `args` share memory (outputs that the shader assumes do not alias its inputs or each other).
void check_disjoint(const char* op, std::initializer_list<Arg> args);
// A scalar argument: `ok` is the condition, `expected` says what was expected ("in [0, 1)").
void check_value(const char* op, bool ok, const char* name, double value, const char* expected);

// Element counts and sizes go to shaders as uint; larger tensors cannot be bound anyway
// (maxStorageBufferRange). Throws ArgumentError naming `what`.
uint32_t to_u32(int64_t n, const std::string& what);

}  // namespace vkdrop::ops

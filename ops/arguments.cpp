#include <vkdrop/ops/arguments.hpp>

#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace vkdrop::ops {

void check_dtype(const char* op, Arg arg, DType dtype) {
  if (arg.tensor.dtype != dtype) {
    throw ArgumentError(fmt::format("{}: {} '{}' is {}, expected {}", op, arg.role, arg.tensor.name,
                                    dtype_name(arg.tensor.dtype), dtype_name(dtype)));
  }
}

void check_shape(const char* op, Arg arg, const Shape& shape, const std::string& why) {
  if (arg.tensor.shape != shape) {
    throw ShapeError(fmt::format("{}: {} '{}' has shape {}, expected {} ({})", op, arg.role, arg.tensor.name,
                                 shape_text(arg.tensor.shape), shape_text(shape), why));
  }
}

void check_tensor(const char* op, Arg arg, const Shape& shape, DType dtype, const std::string& why) {
  check_shape(op, arg, shape, why);
  check_dtype(op, arg, dtype);
}

void check_same_shape(const char* op, Arg arg, Arg like) {
  if (arg.tensor.shape != like.tensor.shape) {
    throw ShapeError(fmt::format("{}: {} '{}' {} and {} '{}' {} must have the same shape", op, arg.role,
                                 arg.tensor.name, shape_text(arg.tensor.shape), like.role, like.tensor.name,
                                 shape_text(like.tensor.shape)));
  }
}

void check_rank(const char* op, Arg arg, std::initializer_list<size_t> ranks, const char* layout) {
  if (std::find(ranks.begin(), ranks.end(), arg.tensor.rank()) == ranks.end()) {
    throw ShapeError(fmt::format("{}: {} '{}' must be {}, got {}", op, arg.role, arg.tensor.name, layout,
                                 shape_text(arg.tensor.shape)));
  }
}

void check_counter(const char* op, Arg arg) {
  check_tensor(op, arg, {2}, DType::u32, "a 64-bit counter in two u32 words, low word first");
}

void check_in_place_or_disjoint(const char* op, Arg out, Arg in) {
  const BufferSlice& o = out.tensor.slice;
  const BufferSlice& i = in.tensor.slice;
  const bool same = o.buffer == i.buffer && o.offset == i.offset;
  if (!same && o.overlaps(i)) {
    throw ArgumentError(fmt::format("{}: {} '{}' and {} '{}' partially overlap; pass the same tensor for an "
                                    "in-place op or separate ones",
                                    op, out.role, out.tensor.name, in.role, in.tensor.name));
  }
}

void check_disjoint(const char* op, std::initializer_list<Arg> args) {
  for (auto a = args.begin(); a != args.end(); ++a) {
    for (auto b = a + 1; b != args.end(); ++b) {
      if (a->tensor.slice.overlaps(b->tensor.slice)) {
        throw ArgumentError(fmt::format("{}: {} '{}' overlaps {} '{}' in memory; each needs its own storage", op,
                                        a->role, a->tensor.name, b->role, b->tensor.name));
      }
    }
  }
}

void check_value(const char* op, bool ok, const char* name, double value, const char* expected) {
  if (!ok) throw ArgumentError(fmt::format("{}: invalid {} = {}: expected {}", op, name, value, expected));
}

uint32_t to_u32(int64_t n, const std::string& what) {
  if (n < 0 || n > std::numeric_limits<uint32_t>::max())
    throw ArgumentError(what + ": element count does not fit in 32 bits");
  return static_cast<uint32_t>(n);
}

}  // namespace vkdrop::ops

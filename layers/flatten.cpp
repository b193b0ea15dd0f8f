#include <vkdrop/layers/flatten.hpp>

#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

namespace vkdrop {

std::string Flatten::describe() const { return fmt::format("Flatten(start_dim={}, end_dim={})", start_, end_); }

Shape Flatten::output_shape(const Shape& input) const {
  const auto rank = static_cast<int64_t>(input.size());
  const int64_t start = start_ < 0 ? start_ + rank : start_, end = end_ < 0 ? end_ + rank : end_;
  if (start < 1 || end >= rank || start > end) {
    throw ShapeError(fmt::format("{} cannot flatten an input of shape {}: dims {}..{} must lie in 1..{} (dim 0 is the "
                                 "batch)",
                                 describe(), shape_text(input), start_, end_, rank - 1));
  }
  Shape output(input.begin(), input.begin() + start);
  int64_t merged = 1;
  for (int64_t d = start; d <= end; ++d) merged *= input[static_cast<size_t>(d)];
  output.push_back(merged);
  output.insert(output.end(), input.begin() + end + 1, input.end());
  return output;
}

}  // namespace vkdrop

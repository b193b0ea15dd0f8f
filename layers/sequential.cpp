#include <vkdrop/layers/sequential.hpp>

#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

namespace vkdrop {

Sequential::Sequential(const Sequential& other) {
  for (const auto& layer : other.layers_) layers_.push_back(layer->clone());
}

Sequential& Sequential::operator=(const Sequential& other) {
  if (this != &other) *this = Sequential(other);
  return *this;
}

std::vector<Shape> Sequential::shapes(const Shape& input) const {
  if (layers_.empty()) throw ArgumentError("Sequential is empty: add at least one layer");
  std::vector<Shape> result{input};
  for (size_t i = 0; i < layers_.size(); ++i) {
    try {
      result.push_back(layers_[i]->output_shape(result.back()));
    } catch (const ShapeError& e) {
      // Name the layer that produced the shape too, so a mismatch points at both ends: the nearest earlier
      // layer that changed the shape (shape-keeping ones such as ReLU or Dropout pass it on), else the input.
      std::string producer = "the input";
      for (size_t j = i; j-- > 0;) {
        if (result[j + 1] != result[j]) {
          producer = fmt::format("layer {} {}", j, layers_[j]->describe());
          break;
        }
      }
      throw ShapeError(fmt::format("layer {} {} cannot follow {} (which gives {}): {}", i, layers_[i]->describe(),
                                   producer, shape_text(result.back()), e.what()));
    }
  }
  return result;
}

std::string Sequential::describe() const {
  std::string text = "Sequential(\n";
  for (size_t i = 0; i < layers_.size(); ++i) text += fmt::format("  ({}): {}\n", i, layers_[i]->describe());
  return text + ")";
}

}  // namespace vkdrop

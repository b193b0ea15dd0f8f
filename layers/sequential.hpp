#pragma once
// Sequential: layers applied in order, as torch.nn.Sequential.
//
//   vkdrop::Sequential net{Linear(784, 1024), ReLU(), Dropout(0.5), Linear(1024, 10)};
//
// A Sequential is a description: it holds copies of its layers' configuration and no device memory. A
// Model (train/model.hpp) compiles it for a device, a batch size, a loss and an optimizer.

#include <vkdrop/layers/layer.hpp>

#include <concepts>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace vkdrop {

class Sequential {
 public:
  Sequential() = default;
  template <typename... Layers>
    requires(sizeof...(Layers) > 0 && (std::derived_from<std::remove_cvref_t<Layers>, Layer> && ...))
  Sequential(Layers&&... layers) {  // NOLINT: implicit, so that `Sequential net{...}` reads like PyTorch
    (add(std::forward<Layers>(layers)), ...);
  }
  Sequential(const Sequential& other);
  Sequential& operator=(const Sequential& other);
  Sequential(Sequential&&) noexcept = default;
  Sequential& operator=(Sequential&&) noexcept = default;

  template <typename L>
    requires std::derived_from<std::remove_cvref_t<L>, Layer>
  Sequential& add(L&& layer) {
    layers_.push_back(std::make_unique<std::remove_cvref_t<L>>(std::forward<L>(layer)));
    return *this;
  }

  size_t size() const { return layers_.size(); }
  const Layer& operator[](size_t i) const { return *layers_.at(i); }
  Layer& operator[](size_t i) { return *layers_.at(i); }

  // The shape after every layer, starting with `input` (size() + 1 shapes). Throws ShapeError naming the
  // two layers whose shapes do not chain, e.g. "layer 2 Linear(in_features=50, ...) cannot follow layer 0
  // Linear(in_features=784, out_features=100, ...): it expects (batch, 50), gets (batch, 100)".
  std::vector<Shape> shapes(const Shape& input) const;

  // PyTorch's printout: "Sequential(\n  (0): Linear(...)\n  (1): ReLU()\n)".
  std::string describe() const;

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
};

}  // namespace vkdrop

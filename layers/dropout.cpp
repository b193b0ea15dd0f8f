#include <vkdrop/layers/dropout.hpp>

#include <vkdrop/layers/python_float.hpp>
#include <vkdrop/ops/dropout.hpp>
#include <vkdrop/reference/dropout_mask.hpp>
#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

namespace vkdrop {

namespace {

ops::DropoutConfig config_of(const Dropout& layer, const PassState& state) {
  return ops::DropoutConfig{layer.p(), layer.scaling(), state.seed, layer.layer_id()};
}

std::string scaling_text(DropoutScaling scaling) {
  return scaling == DropoutScaling::Inverted ? "" : ", scaling=vanilla";
}

}  // namespace

Dropout::Dropout(double p, DropoutScaling scaling) : p_(p), scaling_(scaling) { ref::check_dropout_p(p); }

std::string Dropout::describe() const {
  return fmt::format("Dropout(p={}{}, inplace=False)", python_float(p_), scaling_text(scaling_));
}

void Dropout::forward(Recorder& rec, const LayerTensors& t, const PassState& state) const {
  ops::dropout_forward(rec, t.output, t.input, config_of(*this, state), state.dropout, *state.step);
}

void Dropout::backward(Recorder& rec, const LayerTensors& t, const PassState& state) const {
  if (!t.grad_input.slice.empty())
    ops::dropout_backward(rec, t.grad_input, t.grad_output, config_of(*this, state), *state.step);
}

std::string Dropout2d::describe() const {
  return fmt::format("Dropout2d(p={}{}, inplace=False)", python_float(p_), scaling_text(scaling_));
}

Shape Dropout2d::output_shape(const Shape& input) const {
  if (input.size() != 3 && input.size() != 4) {
    throw ShapeError(fmt::format("{} expects (N, C, H, W) or (N, C, L), got {}", describe(), shape_text(input)));
  }
  return input;
}

void Dropout2d::forward(Recorder& rec, const LayerTensors& t, const PassState& state) const {
  ops::dropout2d_forward(rec, t.output, t.input, config_of(*this, state), state.dropout, *state.step);
}

void Dropout2d::backward(Recorder& rec, const LayerTensors& t, const PassState& state) const {
  if (!t.grad_input.slice.empty())
    ops::dropout2d_backward(rec, t.grad_input, t.grad_output, config_of(*this, state), *state.step);
}

}  // namespace vkdrop

#include <vkdrop/layers/batch_norm.hpp>

#include <vkdrop/layers/python_float.hpp>
#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/ops/batch_norm.hpp>
#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace vkdrop {

BatchNorm::BatchNorm(const char* name, std::initializer_list<size_t> ranks, const char* layout, int64_t num_features,
                     double eps, double momentum)
    : name_(name), ranks_(ranks), layout_(layout), num_features_(num_features), eps_(eps), momentum_(momentum) {
  ops::check_value(name, num_features >= 1, "num_features", double(num_features), "at least 1");
  ops::check_value(name, std::isfinite(eps) && eps >= 0 && eps <= std::numeric_limits<float>::max(), "eps", eps,
                   "finite (as a float) and >= 0");
  ops::check_value(name, momentum >= 0 && momentum <= 1, "momentum", momentum, "in [0, 1]");
}

std::string BatchNorm::describe() const {
  return fmt::format("{}({}, eps={}, momentum={}, affine=True, track_running_stats=True)", name_, num_features_,
                     python_float(eps_), python_float(momentum_));
}

Shape BatchNorm::output_shape(const Shape& input) const {
  if (std::find(ranks_.begin(), ranks_.end(), input.size()) == ranks_.end()) {
    throw ShapeError(fmt::format("{} expects {}, got {}", describe(), layout_, shape_text(input)));
  }
  if (input[1] != num_features_) {
    throw ShapeError(fmt::format("{} expects {} channels in dimension 1, got {}", describe(), num_features_,
                                 shape_text(input)));
  }
  return input;
}

void BatchNorm::check_training_input(const Shape& input) const {
  if (input.size() >= 2 && input[1] > 0 && element_count(input) / input[1] == 1) {
    throw ShapeError(fmt::format("{}: expected more than 1 value per channel when training, got input of shape {}",
                                 describe(), shape_text(input)));
  }
}

std::vector<BufferSpec> BatchNorm::buffers(const Shape&) const {
  const Shape channels{num_features_};
  return {BufferSpec::parameter("weight", channels),         BufferSpec::parameter("bias", channels),
          BufferSpec::state("running_mean", channels),       BufferSpec::state("running_var", channels),
          BufferSpec::state("num_batches_tracked", Shape{}), BufferSpec::scratch("save_mean", channels),
          BufferSpec::scratch("save_invstd", channels)};
}

// PyTorch's reset_parameters and reset_running_stats; nothing is drawn. `values` arrive zeroed, in buffers()
// order without the scratch: weight, bias, running_mean, running_var, num_batches_tracked.
void BatchNorm::initialize(std::span<std::vector<float>> values, std::mt19937_64&, Init) const {
  std::fill(values[0].begin(), values[0].end(), 1.0f);
  std::fill(values[3].begin(), values[3].end(), 1.0f);
}

namespace {

// The ops' view of the layers folded into this one, for this pass.
ops::BatchNormEpilogue epilogue_of(const Epilogue& e, const PassState& state) {
  ops::BatchNormEpilogue out{e.relu, std::nullopt, state.dropout, state.step};
  if (e.dropout2d) {
    out.dropout2d = dropout_config(*e.dropout2d, state);
  }
  return out;
}

}  // namespace

void BatchNorm::forward(Recorder& rec, const LayerTensors& t, const PassState& state) const {
  const float eps = static_cast<float>(eps_);
  const ops::BatchNormEpilogue epilogue = epilogue_of(t.epilogue, state);
  if (state.training) {
    ops::batch_norm_forward_training(rec, t.output, t.scratch[0], t.scratch[1], t.state[0], t.state[1], t.state[2],
                                     t.input, t.params[0], t.params[1], eps, static_cast<float>(momentum_), epilogue);
  } else {
    ops::batch_norm_forward_eval(rec, t.output, t.input, t.state[0], t.state[1], t.params[0], t.params[1], eps,
                                 epilogue);
  }
}

// Backward follows a training forward, whose batch statistics are in the scratch; with an epilogue, its
// output tells where the gradient flows.
void BatchNorm::backward(Recorder& rec, const LayerTensors& t, const PassState& state) const {
  const Tensor no_dx{BufferSlice{}, {0}, DType::f32, "no input gradient"};
  ops::batch_norm_backward(rec, t.grad_input.slice.empty() ? no_dx : t.grad_input, t.grads[0], t.grads[1],
                           t.grad_output, t.input, t.params[0], t.scratch[0], t.scratch[1],
                           epilogue_of(t.epilogue, state), &t.output);
}

}  // namespace vkdrop

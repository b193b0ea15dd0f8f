#pragma once
// Where a model's trainable parameters and persistent state live (llm.c style): every Parameter buffer the
// layers declare is a view into one flat f32 slice at an aligned offset, and gradients and each optimizer
// state slot are flat slices with the same layout, so an update is one dispatch over all of them. State
// buffers (BatchNorm's running statistics) are views into a second flat slice the optimizer never sees.
//
// The store also owns the names: "<layer index>.<buffer name>", PyTorch's nn.Sequential state_dict keys, in
// buffers() order (a layer declares its parameters before its state, as PyTorch orders them).

#include <vkdrop/layers/layer.hpp>
#include <vkdrop/layers/sequential.hpp>
#include <vkdrop/runtime/arena.hpp>
#include <vkdrop/train/safetensors.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace vkdrop {

class Context;

class ParameterStore {
 public:
  // Lays out the Parameter and State buffers `net` declares for inputs of `input` (with batch) in `arena`.
  // Throws ArgumentError naming the layer for a buffer the store cannot hold (not f32, a max-norm axis
  // other than 0) or one larger than the device can bind.
  ParameterStore(Context& context, Arena& arena, const Sequential& net, const Shape& input);

  // Flat slices, each (P) f32 with P the padded parameter count: the parameters, their gradients.
  const Tensor& parameters() const { return params_; }
  const Tensor& gradients() const { return grads_; }
  // A new zeroed flat slice laid out as parameters(): one optimizer state slot.
  Tensor make_slot(Arena& arena, const std::string& name) const;

  // Per-layer views, in buffers() order.
  const std::vector<Tensor>& layer_parameters(size_t layer) const { return layer_params_.at(layer); }
  const std::vector<Tensor>& layer_gradients(size_t layer) const { return layer_grads_.at(layer); }
  const std::vector<Tensor>& layer_state(size_t layer) const { return layer_state_.at(layer); }
  // Every parameter max-norm caps, viewed as (units, fan_in): one row per unit's incoming weights.
  const std::vector<Tensor>& max_norm_rows() const { return max_norm_rows_; }
  int64_t parameter_count() const { return parameter_count_; }

  // Draws every layer's initial parameters and state on the host (the sequence the C++ standard fixes for
  // mt19937_64 and `seed`), uploads them and zeroes the gradients.
  void initialize(const Sequential& net, uint64_t seed, Init init);

  // Parameters and state by state_dict name ("0.weight", "1.running_mean", ...), in PyTorch's order.
  std::vector<NamedTensor> state_dict() const;
  // A flat slot (laid out as parameters()) by name with `prefix`: "momentum_buffer.0.weight", ...
  std::vector<NamedTensor> slot_dict(const Tensor& slot, const std::string& prefix) const;

  // The flat contents of parameters() and of the state slice, read from `tensors`; every buffer that is
  // missing, of another shape or size, and (with `exact`) every tensor the model has no buffer for goes to
  // `problems`. Nothing is uploaded.
  struct Contents {
    std::vector<float> parameters, state;
  };
  Contents gather(const std::vector<NamedTensor>& tensors, bool exact, std::vector<std::string>& problems) const;
  // The flat contents of a slot from tensors named prefix + parameter name.
  std::vector<float> gather_slot(const std::vector<NamedTensor>& tensors, const std::string& prefix,
                                 std::vector<std::string>& problems) const;
  void upload(const Contents& contents);

 private:
  struct Entry {
    size_t layer;
    std::string name;  // "0.weight"
    Shape shape;
    BufferKind kind;
    uint64_t offset;  // in floats, into params_ (Parameter) or state_ (State)
  };
  Context& context_;
  std::vector<Entry> entries_;  // state_dict order
  Tensor params_, grads_, state_;
  std::vector<std::vector<Tensor>> layer_params_, layer_grads_, layer_state_;
  std::vector<Tensor> max_norm_rows_;
  int64_t parameter_count_ = 0;
};

}  // namespace vkdrop

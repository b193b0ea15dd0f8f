#pragma once
// A layer of a Sequential model: its shape rule, the buffers it needs, and how it records its forward and
// backward passes into a Recorder. Layers hold configuration only; the tensors they run on are allocated
// and bound by the Model (train/model.hpp), which owns one arena for all of them.
//
// Conventions (as in llm.c): forward and backward sit side by side in each layer's .cpp; backward WRITES
// (=) the gradients of its inputs and parameters, it never accumulates; shapes include the batch dimension.

#include <vkdrop/ops/dropout.hpp>
#include <vkdrop/reference/dropout_scaling.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace vkdrop {

// How parameters are initialized. PyTorch's default for Linear is Kaiming-uniform with a = sqrt(5)
// (weights ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))) and a uniform bias with the same bound.
enum class Init { PyTorchDefault, XavierUniform };

// U(lo, hi) from the generator's bits directly: std::uniform_real_distribution differs between standard
// libraries, and the same seed must give the same weights everywhere.
inline double uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo + (hi - lo) * static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

// The three kinds of memory a layer can ask for.
enum class BufferKind {
  Parameter,  // trained: has a gradient and optimizer state, saved in checkpoints (Linear.weight)
  State,      // persistent but not trained: saved in checkpoints, never touched by the optimizer
              // (BatchNorm's running_mean); f32
  Scratch,    // what forward leaves for backward (pooling's choices, saved statistics); per batch size,
              // never saved
};

struct BufferSpec {
  // Parameter and State: the PyTorch state_dict suffix ("weight", "running_mean"); Scratch: a label.
  std::string name;
  // Parameter and State: without the batch, the same for every batch size; Scratch: whatever this input
  // shape needs (usually with the batch).
  Shape shape;
  BufferKind kind = BufferKind::Parameter;
  DType dtype = DType::f32;  // Parameter and State are f32
  // Max-norm (Srivastava et al. 2014) caps the L2 norm of each unit's incoming weights. The axis that
  // indexes the units: 0 for the rows of Linear.weight (out, in) and the output channels of a conv filter
  // (out, in, kh, kw); each unit's weights are then everything else. None: never capped (biases, state).
  std::optional<size_t> max_norm_axis;

  static BufferSpec parameter(std::string name, Shape shape, std::optional<size_t> max_norm_axis = std::nullopt) {
    return {std::move(name), std::move(shape), BufferKind::Parameter, DType::f32, max_norm_axis};
  }
  static BufferSpec state(std::string name, Shape shape) {
    return {std::move(name), std::move(shape), BufferKind::State, DType::f32, std::nullopt};
  }
  static BufferSpec scratch(std::string name, Shape shape, DType dtype = DType::f32) {
    return {std::move(name), std::move(shape), BufferKind::Scratch, dtype, std::nullopt};
  }
};

// A Dropout or Dropout2d as an epilogue: the layer's configuration.
struct DropoutEpilogue {
  double p = 0;
  DropoutScaling scaling = DropoutScaling::Inverted;
  uint32_t layer_id = 0;
};

// Element-wise layers that the layer before them may apply to its own output in its own passes (a fused
// epilogue), saving a pass over the activations each way: the Model folds a ReLU, and a Dropout2d after that
// ReLU, into a BatchNorm before them; a ReLU, and a Dropout after it, into a Linear before them (its product's
// epilogue); and elsewhere a Dropout into a ReLU before it. The fused passes compute the same bits as the
// separate ones.
struct Epilogue {
  bool relu = false;                         // max(y, 0)
  std::optional<DropoutEpilogue> dropout;    // then element-wise dropout
  std::optional<DropoutEpilogue> dropout2d;  // or channel dropout (after the ReLU, when both)
  bool empty() const { return !relu && !dropout && !dropout2d; }
};

// `first` then `second` as one epilogue, when that is one: at most a ReLU, then at most one dropout, in that
// order (after a ReLU a kept value > 0 is exactly where the gradient flows, so backward needs only the output).
// A Dropout2d needs the ReLU in the epilogue (an element-wise Dropout may follow the ReLU that owns it).
// nullopt otherwise.
inline std::optional<Epilogue> then(const Epilogue& first, const Epilogue& second) {
  const bool relu = first.relu || second.relu;
  if (first.dropout || first.dropout2d || (first.relu && second.relu) || (second.dropout2d && !relu))
    return std::nullopt;
  return Epilogue{relu, second.dropout, second.dropout2d};
}

// The tensors a layer runs on in one compiled model. Activations and their gradients carry the batch.
struct LayerTensors {
  Tensor input;                 // (B, ...in)
  Tensor output;                // (B, ...out)
  Tensor grad_input;            // like input; empty where nobody needs dL/dx (the data, or a parameter-free
                                // layer's input before any parameter)
  Tensor grad_output;           // like output
  std::vector<Tensor> params;   // the Parameter buffers, in buffers() order
  std::vector<Tensor> grads;    // like params
  std::vector<Tensor> state;    // the State buffers, in buffers() order
  std::vector<Tensor> scratch;  // the Scratch buffers, in buffers() order, for this batch size
  // Applied to the output in forward (output = epilogue(layer(input))), and grad_output is the gradient of
  // that; empty unless the layer's applies_epilogue said yes to the layers after it.
  Epilogue epilogue;
  // The layer after this one has already taken grad_output back through `epilogue` (input_epilogue below): it is the
  // gradient of the output before the epilogue, and this layer's backward must not apply the epilogue's again.
  bool grad_output_before_epilogue = false;
  // The epilogue of the layer before this one, when this layer's backward writes grad_input through its backward
  // (input is then that epilogue's output); empty otherwise. Set where the layer before says
  // takes_gradient_before_epilogue and this one applies_input_epilogue_backward.
  Epilogue input_epilogue;
};

// What a recorded pass is: the step counter (u32 (2): low, high word, on the device) drives the dropout
// masks, so a replayed recording draws a new mask every step with no host write. `training` is the training
// step (BatchNorm normalises with the batch's statistics and updates its running ones); `dropout` says
// whether dropout layers draw masks. They differ in Monte Carlo dropout, which draws masks in an otherwise
// eval-mode pass (BatchNorm keeps its running statistics).
struct PassState {
  const Tensor* step = nullptr;
  uint64_t seed = 0;
  bool training = true;
  bool dropout = true;
};

// A folded Dropout's or Dropout2d's configuration for this pass: what the ops that apply it take.
inline ops::DropoutConfig dropout_config(const DropoutEpilogue& d, const PassState& state) {
  return ops::DropoutConfig{d.p, d.scaling, state.seed, d.layer_id};
}

class Layer {
 public:
  virtual ~Layer() = default;

  // "Linear(in_features=784, out_features=1024, bias=True)", as PyTorch prints it.
  virtual std::string describe() const = 0;
  // The output shape for an input shape (with batch). Throws ShapeError naming the layer and shapes.
  virtual Shape output_shape(const Shape& input) const = 0;
  // Refuses, with a ShapeError, an input that only training cannot take (BatchNorm: one value per channel).
  // The Model calls it for the training batch alone, so evaluation and prediction may still take such inputs.
  virtual void check_training_input(const Shape& /*input*/) const {}
  // The buffers this layer needs for an input of this shape (with batch), in the order LayerTensors lists
  // them per kind. Parameters and state must not depend on the batch.
  virtual std::vector<BufferSpec> buffers(const Shape& /*input*/) const { return {}; }
  // Fill each Parameter and State buffer (host copies, in buffers() order, scratch skipped) with its
  // initial values. The values arrive zeroed.
  virtual void initialize(std::span<std::vector<float>> /*values*/, std::mt19937_64& /*rng*/, Init /*init*/) const {}
  // A dropout layer gets a distinct id per model so every layer draws its own mask.
  virtual void set_layer_id(uint32_t /*id*/) {}
  // True when the output is the input reshaped (Flatten): the Model then binds the output (and its
  // gradient) to the input's memory, and forward and backward record nothing.
  virtual bool is_view() const { return false; }
  // The epilogue this layer is, when it is one (ReLU, Dropout2d), else an empty one. The Model may then fold it
  // into the layer before it: its output and gradient become that layer's, and it records nothing itself.
  virtual Epilogue as_epilogue() const { return {}; }
  // Whether this layer's forward and backward can apply `epilogue` (LayerTensors::epilogue).
  virtual bool applies_epilogue(const Epilogue& /*epilogue*/) const { return false; }
  // The backward of the layer before's epilogue folded into the pass that makes grad_input, saving a pass over the
  // gradient (a Linear after a Linear with a ReLU and a Dropout: its dx product's epilogue). The Model pairs a layer
  // that applies_input_epilogue_backward(e) with the one before it when that one takes_gradient_before_epilogue(e)
  // (LayerTensors::input_epilogue, grad_output_before_epilogue).
  virtual bool applies_input_epilogue_backward(const Epilogue& /*epilogue*/) const { return false; }
  virtual bool takes_gradient_before_epilogue(const Epilogue& /*epilogue*/) const { return false; }

  virtual void forward(Recorder& rec, const LayerTensors& t, const PassState& state) const = 0;
  virtual void backward(Recorder& rec, const LayerTensors& t, const PassState& state) const = 0;

  virtual std::unique_ptr<Layer> clone() const = 0;
};

}  // namespace vkdrop

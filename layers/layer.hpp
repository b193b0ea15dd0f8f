#pragma once
// A layer of a Sequential model: its shape rule, its parameters, and how it records its forward and backward
// passes into a Recorder. Layers hold configuration only; the tensors they run on are bound by the Model
// (train/model.hpp), which owns one arena for all of them.
//
// Conventions (as in llm.c): forward and backward sit side by side in each layer's .cpp; backward WRITES
// (=) the gradients of its inputs and parameters, it never accumulates; shapes include the batch dimension.

#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <cstdint>
#include <memory>
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

struct ParameterSpec {
  std::string name;  // "weight", "bias": the PyTorch state_dict suffix
  Shape shape;       // e.g. (out, in) for Linear.weight
};

// The tensors a layer runs on in one compiled model. Activations and their gradients carry the batch.
struct LayerTensors {
  Tensor input;                 // (B, ...in)
  Tensor output;                // (B, ...out)
  Tensor grad_input;            // like input; empty for the first layer (nobody needs dL/dx of the data)
  Tensor grad_output;           // like output
  std::vector<Tensor> params;   // in parameters() order
  std::vector<Tensor> grads;    // like params
};

// Per-pass values that live on the device: the step counter (u32 (2): low, high word) drives the dropout
// masks, so a replayed recording draws a new mask every step with no host write.
struct PassState {
  const Tensor* step = nullptr;
  uint64_t seed = 0;
  bool training = true;
};

class Layer {
 public:
  virtual ~Layer() = default;

  // "Linear(784, 1024)", as PyTorch prints it.
  virtual std::string describe() const = 0;
  // The output shape for an input shape (with batch). Throws ShapeError naming the layer and shapes.
  virtual Shape output_shape(const Shape& input) const = 0;
  virtual std::vector<ParameterSpec> parameters() const { return {}; }
  // Fill each parameter (host copies, in parameters() order) with its initial values.
  virtual void initialize(std::span<std::vector<float>> /*values*/, std::mt19937_64& /*rng*/, Init /*init*/) const {}
  // A dropout layer gets a distinct id per model so every layer draws its own mask.
  virtual void set_layer_id(uint32_t /*id*/) {}

  virtual void forward(Recorder& rec, const LayerTensors& t, const PassState& state) const = 0;
  virtual void backward(Recorder& rec, const LayerTensors& t, const PassState& state) const = 0;

  virtual std::unique_ptr<Layer> clone() const = 0;
};

}  // namespace vkdrop

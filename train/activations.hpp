#pragma once
// The tensors a model runs on for one batch size: the activation at every layer boundary and its gradient,
// each layer's scratch, the labels and the per-row metrics. A model keeps one set for training and one for
// evaluation and prediction.

#include <vkdrop/layers/layer.hpp>
#include <vkdrop/layers/sequential.hpp>
#include <vkdrop/runtime/arena.hpp>
#include <vkdrop/train/parameter_store.hpp>

#include <cstdint>
#include <vector>

namespace vkdrop {

struct Activations {
  int64_t batch = 0;
  // act[i] is the input of layer i (act[0] the batch, act.back() the logits), grad[i] its gradient (empty
  // where nobody needs it). A view layer's output shares its input's memory.
  std::vector<Tensor> act, grad;
  std::vector<std::vector<Tensor>> scratch;  // per layer, in buffers() order
  // Fused epilogues: epilogue[i] is what layer i applies to its output; folded[i] says that layer i is part of
  // the epilogue of the last layer before it that is not folded, whose output and gradient it shares, and
  // records nothing.
  std::vector<Epilogue> epilogue;
  std::vector<bool> folded;
  // Backward folds across a pair of layers (Layer::applies_input_epilogue_backward): input_epilogue[j] is the
  // epilogue of the layer before j whose backward layer j applies to its grad_input; grad_before_epilogue[i] says
  // that layer i's grad_output already went back through its epilogue.
  std::vector<Epilogue> input_epilogue;
  std::vector<bool> grad_before_epilogue;
  Tensor labels;       // (batch) i32
  Tensor row_loss;     // (batch) f32
  Tensor row_correct;  // (batch) u32

  // What layer i runs on.
  LayerTensors layer(size_t i, const ParameterStore& store) const;
};

// Allocates the activations of `net` for batches of `batch` samples of `sample` shape in `arena`; gradients
// only when `with_gradients`. With `fuse`, layers that are an epilogue (ReLU, Dropout, Dropout2d) the layer before
// them applies (BatchNorm, Linear, ReLU) are folded into that layer, and a layer whose backward can take such an
// epilogue's backward into the pass that makes its grad_input (a Linear after a Linear) does so. Throws ShapeError
// when the layers do not chain, ArgumentError naming the layer whose output or scratch is larger than one binding
// may cover.
Activations make_activations(Arena& arena, const Sequential& net, const Shape& sample, int64_t batch,
                             bool with_gradients, bool fuse = true);

}  // namespace vkdrop

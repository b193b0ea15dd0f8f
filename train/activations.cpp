#include <vkdrop/train/activations.hpp>

#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

namespace vkdrop {

namespace {

// Allocation errors (a tensor over maxStorageBufferRange) name the layer they belong to.
Tensor allocate(Arena& arena, const Shape& shape, DType dtype, const std::string& name, const std::string& owner) {
  try {
    return make_tensor(arena, shape, dtype, name);
  } catch (const ArgumentError& e) {
    throw ArgumentError(fmt::format("{}: {}", owner, e.what()));
  }
}

}  // namespace

LayerTensors Activations::layer(size_t i, const ParameterStore& store) const {
  return LayerTensors{act[i],
                      act[i + 1],
                      grad[i],
                      grad[i + 1],
                      store.layer_parameters(i),
                      store.layer_gradients(i),
                      store.layer_state(i),
                      scratch[i],
                      epilogue[i],
                      grad_before_epilogue[i],
                      input_epilogue[i]};
}

Activations make_activations(Arena& arena, const Sequential& net, const Shape& sample, int64_t batch,
                             bool with_gradients, bool fuse) {
  Activations a;
  a.batch = batch;
  const std::vector<Shape> shapes = net.shapes(with_batch(batch, sample));
  a.scratch.resize(net.size());
  a.epilogue.assign(net.size(), Epilogue{});
  a.folded.assign(net.size(), false);
  a.input_epilogue.assign(net.size(), Epilogue{});
  a.grad_before_epilogue.assign(net.size(), false);
  size_t fold_into = 0;  // the last layer so far that is not folded (meaningful from i = 1)
  // The gradient at boundary i is needed only if a layer before it has parameters: nobody needs dL/dx of
  // the data, nor of what parameter-free layers (an input Dropout) made of it.
  bool parameters_below = false;
  a.act.push_back(allocate(arena, shapes[0], DType::f32, "input", "the input batch"));
  a.grad.push_back(Tensor{BufferSlice{}, shapes[0], DType::f32, "unused gradient"});
  for (size_t i = 0; i < net.size(); ++i) {
    const Layer& layer = net[i];
    const std::string owner = fmt::format("layer {} {} (input {})", i, layer.describe(), shape_text(shapes[i]));
    bool has_parameters = false;
    for (const BufferSpec& spec : layer.buffers(shapes[i])) {
      has_parameters |= spec.kind == BufferKind::Parameter;
      if (spec.kind == BufferKind::Scratch)
        a.scratch[i].push_back(allocate(arena, spec.shape, spec.dtype, fmt::format("{}.{}", i, spec.name), owner));
    }
    parameters_below |= has_parameters;
    const std::string out_name = fmt::format("output of layer {}", i), grad_name = fmt::format("gradient of layer {}", i);
    // An epilogue that the last unfolded layer (not a view) can add to its own shares that layer's output and
    // gradient: the owner writes both passes' results there.
    const Epilogue as_epilogue = layer.as_epilogue();
    if (fuse && i > 0 && !as_epilogue.empty() && !has_parameters && a.scratch[i].empty() && !net[fold_into].is_view()) {
      const std::optional<Epilogue> joined = then(a.epilogue[fold_into], as_epilogue);
      if (joined && net[fold_into].applies_epilogue(*joined)) {
        a.epilogue[fold_into] = *joined;
        a.folded[i] = true;
        a.act.push_back(a.act[i]);
        a.grad.push_back(a.grad[i]);
        continue;
      }
    }
    // The backward of the epilogue of the layer before (whose output, after the epilogue, is this one's input) in the
    // pass that makes this layer's grad_input.
    if (i > 0 && with_gradients && !a.grad[i].slice.empty() && !a.epilogue[fold_into].empty() &&
        !net[fold_into].is_view() && !layer.is_view() && layer.applies_input_epilogue_backward(a.epilogue[fold_into]) &&
        net[fold_into].takes_gradient_before_epilogue(a.epilogue[fold_into])) {
      a.input_epilogue[i] = a.epilogue[fold_into];
      a.grad_before_epilogue[fold_into] = true;
    }
    fold_into = i;
    if (layer.is_view()) {
      if (element_count(shapes[i + 1]) != element_count(shapes[i])) {
        throw ShapeError(fmt::format("{} is a view but gives {} from {}: a view keeps the element count", owner,
                                     shape_text(shapes[i + 1]), shape_text(shapes[i])));
      }
      a.act.push_back(reshaped(a.act[i], shapes[i + 1]));
      a.grad.push_back(reshaped(a.grad[i], shapes[i + 1]));
      continue;
    }
    a.act.push_back(allocate(arena, shapes[i + 1], DType::f32, out_name, owner));
    a.grad.push_back(with_gradients && parameters_below
                         ? allocate(arena, shapes[i + 1], DType::f32, grad_name, owner)
                         : Tensor{BufferSlice{}, shapes[i + 1], DType::f32, "unused gradient"});
  }
  a.labels = make_tensor(arena, {batch}, DType::i32, "labels");
  a.row_loss = make_tensor(arena, {batch}, DType::f32, "row loss");
  a.row_correct = make_tensor(arena, {batch}, DType::u32, "row correct");
  return a;
}

}  // namespace vkdrop

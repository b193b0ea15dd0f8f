#pragma once
// What BatchNorm1d and BatchNorm2d share (torch.nn's _BatchNorm with affine=True, track_running_stats=True):
// per channel, a weight (init 1) and bias (init 0), trained and never capped by max-norm; the state
// running_mean (init 0), running_var (init 1) and num_batches_tracked (init 0) under PyTorch's state_dict
// names; and the scratch save_mean and save_invstd that the training forward leaves for backward.
//
// Training (PassState::training) normalises each channel with its batch statistics and moves the running
// statistics towards them (the mean, and the unbiased variance) by `momentum`, counting the batch; eval
// normalises with the running statistics. num_batches_tracked is kept as f32 (state is f32) under PyTorch's 0-d
// shape (); PyTorch's load_state_dict copies it into its int64 buffer. Counts are exact up to 2^24 batches.

#include <vkdrop/layers/layer.hpp>

#include <initializer_list>
#include <vector>

namespace vkdrop {

class BatchNorm : public Layer {
 public:
  // "BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
  std::string describe() const override;
  // The input itself. ShapeError naming the layer for another rank or another channel count in dimension 1.
  Shape output_shape(const Shape& input) const override;
  // A single value per channel (N·L = 1) cannot be normalised by its own statistics: refused for training
  // (PyTorch refuses it too); evaluation, which uses the running statistics, takes it.
  void check_training_input(const Shape& input) const override;
  // weight, bias (C) parameters; running_mean, running_var (C) and num_batches_tracked () state;
  // save_mean, save_invstd (C) scratch.
  std::vector<BufferSpec> buffers(const Shape& input) const override;
  void initialize(std::span<std::vector<float>> values, std::mt19937_64& rng, Init init) const override;
  // A ReLU after it, and a Dropout2d after that: normalised, ReLU'd and dropped in one pass, and their
  // gradients taken in the backward passes.
  bool applies_epilogue(const Epilogue& epilogue) const override { return epilogue.relu && !epilogue.dropout; }
  void forward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;
  void backward(Recorder& rec, const LayerTensors& t, const PassState& state) const override;

  int64_t num_features() const { return num_features_; }
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }

 protected:
  // `name` ("BatchNorm2d") and the input ranks it takes, with their layout for messages ("(N, C, H, W)").
  // Throws ArgumentError naming the layer unless num_features >= 1, eps is finite (as a float) and >= 0, and
  // momentum is in [0, 1].
  BatchNorm(const char* name, std::initializer_list<size_t> ranks, const char* layout, int64_t num_features,
            double eps, double momentum);

 private:
  const char* name_;
  std::vector<size_t> ranks_;
  const char* layout_;
  int64_t num_features_;
  double eps_, momentum_;  // as given, for describe(); the GPU gets them as floats
};

}  // namespace vkdrop

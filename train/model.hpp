#pragma once
// A Model is a Sequential compiled for one device, batch size, loss (softmax cross-entropy) and optimizer:
// the user's one handle on training, evaluation, prediction and checkpoints. It puts together the concepts
// that do the work, each in its own file:
//   train/parameter_store   parameters, gradients, optimizer state and layer state in one flat layout
//   train/optimizer         the Optimizer interface; train/sgd, train/adam implement it
//   train/activations       the tensors one batch size runs on
//   train/programs          the recorded training step, evaluation pass and prediction passes
//   train/dataset_programs  those recordings per data set, dropped when the data set is gone
//   train/epoch_runner      chunked submissions with asynchronous readback
//   train/checkpoint.cpp    save and load
// All device memory but the data sets' sits in one arena (llm.c style). The whole training step is recorded
// once and replayed; per-step values (the RNG step, the batch position, the learning rate) live in device
// memory and the recorded kernels advance them.

#include <vkdrop/datasets/device_dataset.hpp>
#include <vkdrop/layers/layer.hpp>
#include <vkdrop/layers/sequential.hpp>
#include <vkdrop/reference/schedule.hpp>
#include <vkdrop/runtime/arena.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/train/adam.hpp>
#include <vkdrop/train/optimizer.hpp>
#include <vkdrop/train/safetensors.hpp>
#include <vkdrop/train/sgd.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vkdrop {

class Context;
class EpochRunner;
class ParameterStore;
class Programs;
struct DeviceCounters;
struct ModelTensors;

struct TrainConfig {
  int64_t batch_size = 128;
  int64_t eval_batch_size = 1000;
  AnyOptimizer optimizer = SGD{};  // SGD, Adam, or any class derived from Optimizer
  Schedule schedule{};     // learning rate and momentum per step (steps_per_epoch is set by the Model)
  double max_norm = 0;     // Srivastava et al. 2014: cap each unit's incoming weight norm at c; 0 = off
  uint64_t seed = 0;       // initialization, shuffling and dropout masks
  Init init = Init::PyTorchDefault;
  bool profile = false;    // GPU timestamps per dispatch of the training step (Model::step_timings)
  // Fold an activation into the passes of the layer before it where that layer can apply it (a ReLU after a
  // BatchNorm: layers/layer.hpp, Epilogue): fewer passes over the activations, the same bits. false: every
  // layer records its own passes.
  bool fuse_epilogues = true;
};

struct Metrics {
  double loss = 0;        // mean cross-entropy
  double error = 0;       // fraction misclassified
  int64_t samples = 0;
};

struct Progress {
  int64_t step_in_epoch, steps_per_epoch;
  Metrics running;  // over the epoch so far
  double seconds;   // since the epoch started
};

// How far predict_mc has got: reported between its submissions.
struct PredictProgress {
  int64_t done, total;  // sample-passes: one sample through one stochastic forward pass; total = n * passes
  double seconds;       // since predict_mc began
};

class Model {
 public:
  // `sample_shape`: one input without the batch, e.g. {784}. Throws ShapeError if the layers do not chain,
  // ArgumentError for a batch size of 0 and the like.
  Model(Context& context, const Sequential& net, Shape sample_shape, TrainConfig config);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // --- training ---------------------------------------------------------------------------------------
  // One pass over `data` in a fresh order (a function of the seed and the epoch number). The last partial
  // batch is dropped (as DataLoader(drop_last=True)); its samples are in other batches in other epochs.
  // `progress` is called from this thread between submissions. Throws NumericalError naming the first step
  // whose loss was NaN or inf. A device fault (VK_ERROR_DEVICE_LOST, device memory that runs out, a
  // submission that never finishes: VulkanError) here, in evaluate or in save ends with a VulkanError that
  // also names the last checkpoint this model saved or loaded, which is left as it was.
  Metrics train_epoch(const DeviceDataset& data, const std::function<void(const Progress&)>& progress = {});
  // Loss and error over all of `data` with dropout off (eval). A partial last batch is padded and the
  // padded rows are not counted.
  Metrics evaluate(const DeviceDataset& data);

  // --- inference --------------------------------------------------------------------------------------
  // train() / eval() choose whether predict() applies dropout; eval by default. In train mode each predict()
  // call draws new masks: one Monte Carlo dropout pass. Unlike torch.nn.Module.train(), BatchNorm still
  // normalises with its running statistics and leaves them alone: only the training step uses batch statistics.
  void train() { training_ = true; }
  void eval() { training_ = false; }
  bool is_training() const { return training_; }
  // Class probabilities (n, classes) for n samples given as f32 (n, sample...) row-major.
  std::vector<float> predict(std::span<const float> inputs, int64_t n);
  // Monte Carlo dropout (Gal & Ghahramani 2016): the mean of the class probabilities of `passes` forward
  // passes with dropout on, whatever the mode. Each pass draws new masks; all passes over a batch of up to
  // eval_batch_size samples are one submission of the same recorded pass. passes = 1 is predict() in train
  // mode, and T calls of that draw the same masks as one predict_mc(T) (for n <= eval_batch_size).
  // With `progress`, the passes over a batch are split into submissions of about a quarter second each, with
  // a report after each; the result is the same to the bit.
  std::vector<float> predict_mc(std::span<const float> inputs, int64_t n, int passes,
                                const std::function<void(const PredictProgress&)>& progress = {});

  // --- state ------------------------------------------------------------------------------------------
  // Parameters and persistent layer state by PyTorch state_dict name ("0.weight", "0.bias", "3.weight", ...).
  std::vector<NamedTensor> state_dict();
  void load_state_dict(const std::vector<NamedTensor>& tensors);  // throws DataError listing mismatches
  // Weights in `path` (safetensors, loadable by PyTorch's nn.Sequential), and optimizer state with the
  // step and epoch counters in `path` + ".optim" — both written atomically.
  void save(const std::filesystem::path& path);
  void load(const std::filesystem::path& path, bool with_optimizer = true);

  uint64_t step() const { return step_; }
  uint64_t epoch() const { return epoch_; }
  uint64_t arena_bytes() const { return arena_.bytes_reserved(); }
  int64_t parameter_count() const;
  const Sequential& net() const { return net_; }
  // The network as PyTorch prints it, each layer's output shape, the parameter count and the device.
  std::string summary() const;
  // GPU time per dispatch of the last replayed training step, when built with profile = true.
  std::vector<DispatchTiming> step_timings() const { return last_timings_; }
  double host_seconds_per_step() const;
  // Data sets whose recordings the model holds (those of data sets that no longer exist are dropped at the
  // next train_epoch or evaluate).
  size_t cached_datasets() const;

 private:
  ModelTensors tensors() const;
  void check_dataset(const DeviceDataset& data) const;
  std::vector<float> run_prediction(std::span<const float> inputs, int64_t n, bool stochastic, uint32_t passes,
                                    const std::function<void(const PredictProgress&)>& progress = {});
  void throw_if_problems(const std::vector<std::string>& problems, const std::string& what) const;
  Metrics run_epoch(const DeviceDataset& data, const std::function<void(const Progress&)>& progress);
  Metrics run_evaluation(const DeviceDataset& data);
  void write_checkpoint(const std::filesystem::path& path);
  // Rethrows a device fault met while `doing`, adding where the last good checkpoint is.
  [[noreturn]] void throw_device_fault(const VulkanError& fault, const std::string& doing) const;

  Context& context_;
  Sequential net_;
  Shape sample_shape_;
  TrainConfig config_;
  Arena arena_;
  std::unique_ptr<ParameterStore> store_;
  std::vector<Tensor> optimizer_state_;  // one flat slot per config_.optimizer->state_names() entry
  std::unique_ptr<DeviceCounters> counters_;
  std::unique_ptr<EpochRunner> runner_;
  std::unique_ptr<Programs> programs_;
  std::vector<DispatchTiming> last_timings_;
  bool training_ = false;
  uint64_t step_ = 0;   // host mirror of the device step counter
  uint64_t epoch_ = 0;  // epochs completed
  std::filesystem::path last_checkpoint_;  // the last save or load, named when a device fault ends training
  uint64_t last_checkpoint_epoch_ = 0;
};

}  // namespace vkdrop

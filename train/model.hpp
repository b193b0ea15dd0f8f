#pragma once
// A Model is a Sequential compiled for one device, batch size, loss (softmax cross-entropy) and optimizer.
//
// It owns one arena (llm.c style): parameters, gradients and optimizer state are each one flat slice laid
// out the same way (so the update is one dispatch over all parameters), and every activation is a slice
// too. The whole training step (gather the batch on the device, forward, loss, backward, update, advance
// the counters) is recorded once and replayed; per-step values (the RNG step, the batch position, the
// learning rate) live in device memory and the recorded kernels advance them. The host submits many
// steps at once, keeps two such submissions queued, and reads the running loss and accuracy of one from
// host-visible memory while the next runs.

#include <vkdrop/datasets/device_dataset.hpp>
#include <vkdrop/layers/layer.hpp>
#include <vkdrop/layers/sequential.hpp>
#include <vkdrop/reference/schedule.hpp>
#include <vkdrop/runtime/arena.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/train/safetensors.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace vkdrop {

class Context;
class HostBuffer;

// torch.optim.SGD: lr and momentum come from the Schedule.
struct SGD {
  double weight_decay = 0;
  bool nesterov = false;
};
// torch.optim.Adam / AdamW (decoupled = true): lr comes from the Schedule.
struct Adam {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled = false;
};
using Optimizer = std::variant<SGD, Adam>;

struct TrainConfig {
  int64_t batch_size = 128;
  int64_t eval_batch_size = 1000;
  Optimizer optimizer = SGD{};
  Schedule schedule{};     // learning rate and momentum per step (steps_per_epoch is set by the Model)
  double max_norm = 0;     // Srivastava et al. 2014: cap each unit's incoming weight norm at c; 0 = off
  uint64_t seed = 0;       // initialization, shuffling and dropout masks
  Init init = Init::PyTorchDefault;
  bool profile = false;    // GPU timestamps per dispatch of the training step (Model::step_timings)
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
  // whose loss was NaN or inf.
  Metrics train_epoch(const DeviceDataset& data, const std::function<void(const Progress&)>& progress = {});
  // Loss and error over all of `data` with dropout off (eval). A partial last batch is padded and the
  // padded rows are not counted.
  Metrics evaluate(const DeviceDataset& data);

  // --- inference --------------------------------------------------------------------------------------
  // train() / eval() choose whether predict() applies dropout (as torch.nn.Module.train/eval); eval by
  // default. In train mode each predict() call draws new masks: one Monte Carlo dropout pass.
  void train() { training_ = true; }
  void eval() { training_ = false; }
  bool is_training() const { return training_; }
  // Class probabilities (n, classes) for n samples given as f32 (n, sample...) row-major.
  std::vector<float> predict(std::span<const float> inputs, int64_t n);
  // Monte Carlo dropout (Gal & Ghahramani 2016): the mean of the class probabilities of `passes` forward
  // passes with dropout on, whatever the mode. Each pass draws new masks; all passes over a batch of up to
  // eval_batch_size samples are one submission of the same recorded pass. passes = 1 is predict() in train
  // mode, and T calls of that draw the same masks as one predict_mc(T) (for n <= eval_batch_size).
  std::vector<float> predict_mc(std::span<const float> inputs, int64_t n, int passes);

  // --- state ------------------------------------------------------------------------------------------
  // Parameters by PyTorch state_dict name ("0.weight", "0.bias", "3.weight", ...).
  std::vector<NamedTensor> state_dict();
  void load_state_dict(const std::vector<NamedTensor>& tensors);  // throws DataError listing mismatches
  // Weights in `path` (safetensors, loadable by PyTorch's nn.Sequential), and optimizer state with the
  // step and epoch counters in `path` + ".optim" — both written atomically.
  void save(const std::filesystem::path& path);
  void load(const std::filesystem::path& path, bool with_optimizer = true);

  uint64_t step() const { return step_; }
  uint64_t epoch() const { return epoch_; }
  uint64_t arena_bytes() const { return arena_.bytes_reserved(); }
  int64_t parameter_count() const { return parameter_count_; }
  const Sequential& net() const { return net_; }
  std::string summary() const;
  // GPU time per dispatch of the last replayed training step, when built with profile = true.
  std::vector<DispatchTiming> step_timings() const;
  double host_seconds_per_step() const { return host_seconds_per_step_; }

 private:
  struct Activations;
  struct Dataset;
  void record_forward(Recorder& rec, Activations& acts, const PassState& state);
  std::unique_ptr<Recorder> record_train_step(const DeviceDataset& data, const Dataset& d);
  std::unique_ptr<Recorder> record_eval_pass(const DeviceDataset& data, const Dataset& d);
  std::vector<float> gather_parameters(const std::vector<NamedTensor>& tensors, const std::string& prefix,
                                       std::vector<std::string>& problems) const;
  void throw_if_problems(const std::vector<std::string>& problems, const std::string& what) const;
  void check_dataset(const DeviceDataset& data) const;
  std::vector<float> run_prediction(std::span<const float> inputs, int64_t n, bool stochastic, uint32_t passes);
  void reset_counter(const Tensor& t, uint64_t value);
  std::vector<uint32_t> read_u32(const Tensor& t);

  Context& context_;
  Sequential net_;
  Shape sample_shape_;
  TrainConfig config_;
  std::vector<Shape> shapes_;  // per layer boundary, batch = 1 placeholder
  Arena arena_;
  int64_t parameter_count_ = 0;
  int64_t classes_ = 0;

  // Flat parameter storage: params_, grads_ and the optimizer's state share one layout.
  Tensor params_, grads_, state1_, state2_;
  std::vector<std::vector<Tensor>> layer_params_, layer_grads_;  // views into params_ / grads_
  std::vector<std::string> param_names_;                         // "0.weight", ...
  std::vector<const Tensor*> param_views_;                       // flattened, state_dict order

  // Device counters and running sums, each its own aligned slice.
  Tensor step_counter_;  // (2) u32: optimizer steps taken (drives dropout masks and the schedule)
  Tensor hyper_;         // (4) f32: [lr, momentum, 0, 0]
  Tensor status_;        // (1) u32: bit 0 = a label out of range
  Tensor first_bad_;     // (2) u32: first step with a non-finite loss, + 1
  Tensor mc_step_;       // (2) u32: stochastic predict passes so far (Monte Carlo dropout masks)
  std::unique_ptr<HostBuffer> readback_;  // two slots the training chunks report into (see train_epoch)

  std::unique_ptr<Activations> train_acts_, eval_acts_;  // predict() uses eval_acts_
  // Per data set seen (by DeviceDataset::id): its order, counters and recordings, made once.
  std::map<uint64_t, std::unique_ptr<Dataset>> train_sets_, eval_sets_;
  const Dataset* last_trained_ = nullptr;  // step_timings() reads its recording
  std::unique_ptr<Recorder> predict_eval_, predict_stochastic_;
  Tensor predict_probs_;

  bool training_ = false;
  uint64_t step_ = 0;   // host mirror of step_counter_
  uint64_t epoch_ = 0;  // epochs completed
  double host_seconds_per_step_ = 0;
};

}  // namespace vkdrop

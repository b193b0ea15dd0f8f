#pragma once
// The programs a Model records once and replays: the training step, the evaluation pass, and the
// prediction passes (deterministic, and the stochastic one Monte Carlo dropout sums). Each is a plain
// function of what it runs on; every dispatch goes through ops/ or a layer.

#include <vkdrop/datasets/device_dataset.hpp>
#include <vkdrop/layers/sequential.hpp>
#include <vkdrop/reference/schedule.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/train/activations.hpp>
#include <vkdrop/train/dataset_programs.hpp>
#include <vkdrop/train/optimizer.hpp>
#include <vkdrop/train/parameter_store.hpp>

#include <array>
#include <functional>
#include <memory>
#include <span>

namespace vkdrop {

class Arena;
class Context;

// Per-model values that live on the device, each its own aligned slice.
struct DeviceCounters {
  Tensor step;       // (2) u32: optimizer steps taken (drives dropout masks and the schedule)
  Tensor hyper;      // (4) f32: [lr, momentum, 0, 0], written by the schedule
  Tensor status;     // (1) u32: bit 0 = a label out of range
  Tensor first_bad;  // (2) u32: first step with a non-finite loss, + 1
  Tensor mc_step;    // (2) u32: stochastic predict passes so far (Monte Carlo dropout masks)

  static DeviceCounters make(Context& context, Arena& arena);
};
// Sets a counter (any u32 tensor of one or two words) to `value`.
void reset_counter(Context& context, const Tensor& counter, uint64_t value);

// What every program runs on: the model's tensors that outlive any one recording.
struct ModelTensors {
  Context& context;
  const Sequential& net;
  const ParameterStore& store;
  const Optimizer& optimizer;
  std::span<const Tensor> optimizer_state;
  const DeviceCounters& counters;
};

struct TrainStepOptions {
  Schedule schedule;
  double max_norm = 0;  // 0 = off
  uint64_t seed = 0;
  bool timestamps = false;
};

// One training step: schedule, gather the batch, forward, loss, backward, update, max-norm, advance the
// step and position counters.
std::unique_ptr<Recorder> record_train_step(const ModelTensors& m, const Activations& a, const DeviceDataset& data,
                                            const DatasetCursor& cursor, const TrainStepOptions& options);
// One evaluation batch with dropout off: loss and correct counts of the rows that exist, added to totals.
std::unique_ptr<Recorder> record_eval_pass(const ModelTensors& m, const Activations& a, const DeviceDataset& data,
                                           const DatasetCursor& cursor, uint64_t seed);
// Class probabilities of a.act[0] into probs: written (deterministic, dropout off), or added to probs with
// dropout on and masks drawn from counters.mc_step and `seed`, which the pass advances (stochastic).
std::unique_ptr<Recorder> record_prediction(const ModelTensors& m, const Activations& a, const Tensor& probs,
                                            bool stochastic, uint64_t seed);

// The programs of one model and the activations they run on: a training step and an evaluation pass per
// data set (cached, see dataset_programs.hpp), and the two prediction passes.
class Programs {
 public:
  Programs(Arena& arena, const Sequential& net, const Shape& sample, int64_t train_batch, int64_t eval_batch,
           bool fuse_epilogues);

  const Activations& train_activations() const { return train_acts_; }
  const Activations& eval_activations() const { return eval_acts_; }
  const Tensor& probabilities() const { return probs_; }  // (eval batch, classes): what prediction() writes

  // The training step (and its reports, recorded by `record_reports`) or the evaluation pass for `data`,
  // recorded the first time. Each call first drops what was recorded for data sets that no longer exist.
  DatasetProgram& train_step(const ModelTensors& m, const DeviceDataset& data, const TrainStepOptions& options,
                             const std::function<std::array<std::unique_ptr<Recorder>, 2>(const DatasetCursor&)>&
                                 record_reports);
  DatasetProgram& eval_pass(const ModelTensors& m, const DeviceDataset& data, uint64_t seed);
  Recorder& prediction(const ModelTensors& m, bool stochastic, uint64_t seed);
  size_t cached_datasets() const { return train_sets_.size() + eval_sets_.size(); }

 private:
  void drop_expired();  // before any new recording, in both caches
  Activations train_acts_, eval_acts_;  // predictions run on eval_acts_
  DatasetPrograms train_sets_, eval_sets_;
  std::unique_ptr<Recorder> predict_deterministic_, predict_stochastic_;
  Tensor probs_;
};

}  // namespace vkdrop

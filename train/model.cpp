#include <vkdrop/train/model.hpp>

#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/reference/epoch_order.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/train/epoch_runner.hpp>
#include <vkdrop/train/parameter_store.hpp>
#include <vkdrop/train/programs.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <chrono>

namespace vkdrop {

namespace {

// Salt for the masks drawn by predict() in train mode, so Monte Carlo dropout never repeats a training mask.
constexpr uint64_t k_mc_seed_salt = 0x4d43'2d64'726f'7000ull;  // "MC-drop"

// PyTorch prints a shape as torch.Size([128, 1, 28, 28]).
std::string torch_size(const Shape& shape) {
  std::string text;
  for (size_t i = 0; i < shape.size(); ++i) text += fmt::format("{}{}", i ? ", " : "", shape[i]);
  return "torch.Size([" + text + "])";
}

// Replays `rec` `passes` times in submissions sized to last about seconds_per_chunk each (the first is one
// pass, to time it), calling `progress` after each with `rows` samples more per pass done.
void submit_reporting(Recorder& rec, uint32_t passes, int64_t rows, std::chrono::steady_clock::time_point began,
                      PredictProgress& report, const std::function<void(const PredictProgress&)>& progress) {
  using clock = std::chrono::steady_clock;
  const double target = ops::chunk_tuning(rec.context().info()).seconds_per_chunk;
  uint32_t chunk = 1;
  for (uint32_t left = passes; left > 0;) {
    const uint32_t now = std::min(chunk, left);
    const auto start = clock::now();
    rec.run(now);
    const double seconds = std::chrono::duration<double>(clock::now() - start).count();
    left -= now;
    report.done += rows * now;
    report.seconds = std::chrono::duration<double>(clock::now() - began).count();
    progress(report);
    chunk = static_cast<uint32_t>(std::clamp(target / std::max(seconds / now, 1e-6), 1.0, static_cast<double>(passes)));
  }
}

}  // namespace

Model::Model(Context& context, const Sequential& net, Shape sample_shape, TrainConfig config)
    : context_(context), net_(net), sample_shape_(std::move(sample_shape)), config_(config), arena_(context, 32ull << 20) {
  if (config_.batch_size <= 0) throw ArgumentError(fmt::format("batch size must be positive, got {}", config_.batch_size));
  if (config_.eval_batch_size <= 0)
    throw ArgumentError(fmt::format("eval batch size must be positive, got {}", config_.eval_batch_size));
  if (!(config_.max_norm >= 0)) throw ArgumentError(fmt::format("max-norm must be >= 0 (0 = off), got {}", config_.max_norm));
  config_.schedule.validate();  // here, not at the first step
  config_.optimizer->validate();
  if (sample_shape_.empty()) throw ShapeError("the sample shape is empty; MNIST for an MLP is {784}");
  const std::vector<Shape> train_shapes = net_.shapes(with_batch(config_.batch_size, sample_shape_));
  for (size_t i = 0; i < net_.size(); ++i) {
    try {
      net_[i].check_training_input(train_shapes[i]);
    } catch (const ShapeError& e) {
      throw ShapeError(fmt::format("layer {} {} cannot train on batches of {}: {}", i, net_[i].describe(),
                                   config_.batch_size, e.what()));
    }
  }
  // The store lays out parameters and state once, from the training batch: they must not depend on the batch.
  const std::vector<Shape> eval_shapes = net_.shapes(with_batch(config_.eval_batch_size, sample_shape_));
  for (size_t i = 0; i < net_.size(); ++i) {
    const auto persistent = [&](const Shape& input) {
      std::vector<std::pair<std::string, Shape>> specs;
      for (const BufferSpec& spec : net_[i].buffers(input))
        if (spec.kind != BufferKind::Scratch) specs.emplace_back(spec.name, spec.shape);
      return specs;
    };
    if (persistent(train_shapes[i]) != persistent(eval_shapes[i])) {
      throw ArgumentError(fmt::format("layer {} {} declares parameters or state whose shapes depend on the batch "
                                      "({} against {}); only scratch may", i, net_[i].describe(),
                                      shape_text(train_shapes[i]), shape_text(eval_shapes[i])));
    }
  }
  const Shape logits = train_shapes.back();
  if (logits.size() != 2) {
    throw ShapeError(fmt::format("the last layer gives {}; softmax cross-entropy needs (batch, classes)", shape_text(logits)));
  }
  for (size_t i = 0; i < net_.size(); ++i) net_[i].set_layer_id(static_cast<uint32_t>(i));

  store_ = std::make_unique<ParameterStore>(context_, arena_, net_, with_batch(config_.batch_size, sample_shape_));
  store_->initialize(net_, config_.seed, config_.init);
  for (const std::string& name : config_.optimizer->state_names()) optimizer_state_.push_back(store_->make_slot(arena_, name));
  counters_ = std::make_unique<DeviceCounters>(DeviceCounters::make(context_, arena_));
  runner_ = std::make_unique<EpochRunner>(context_);
  programs_ = std::make_unique<Programs>(arena_, net_, sample_shape_, config_.batch_size, config_.eval_batch_size,
                                         config_.fuse_epilogues);
}

Model::~Model() = default;

ModelTensors Model::tensors() const {
  return ModelTensors{context_, net_, *store_, *config_.optimizer, optimizer_state_, *counters_};
}

int64_t Model::parameter_count() const { return store_->parameter_count(); }
double Model::host_seconds_per_step() const { return runner_->host_seconds_per_step(); }
size_t Model::cached_datasets() const { return programs_->cached_datasets(); }

void Model::check_dataset(const DeviceDataset& data) const {
  if (data.sample_shape() != sample_shape_) {
    throw ShapeError(fmt::format("data set {} has samples of shape {}; the model was compiled for {}", data.name(),
                                 shape_text(data.sample_shape()), shape_text(sample_shape_)));
  }
  if (data.count() == 0) throw ArgumentError(fmt::format("data set {} is empty", data.name()));
}

Metrics Model::train_epoch(const DeviceDataset& data, const std::function<void(const Progress&)>& progress) {
  try {
    return run_epoch(data, progress);
  } catch (const VulkanError& fault) {
    throw_device_fault(fault, fmt::format("training epoch {} on {}", epoch_ + 1, data.name()));
  }
}

Metrics Model::evaluate(const DeviceDataset& data) {
  try {
    return run_evaluation(data);
  } catch (const VulkanError& fault) {
    throw_device_fault(fault, fmt::format("evaluating on {}", data.name()));
  }
}

void Model::throw_device_fault(const VulkanError& fault, const std::string& doing) const {
  const std::string checkpoint =
      last_checkpoint_.empty()
          ? std::string(" This model saved and loaded no checkpoint: what it trained is lost.")
          : fmt::format(" The last good checkpoint is {} (after epoch {}), left as it was: resume from it.",
                        last_checkpoint_.string(), last_checkpoint_epoch_);
  throw VulkanError(fault.result(), fmt::format("{} (while {}).{}", fault.what(), doing, checkpoint));
}

Metrics Model::run_epoch(const DeviceDataset& data, const std::function<void(const Progress&)>& progress) {
  check_dataset(data);
  const int64_t steps = data.count() / config_.batch_size;
  if (steps == 0) {
    throw ArgumentError(fmt::format("data set {} has {} samples, fewer than one batch of {}", data.name(), data.count(),
                                    config_.batch_size));
  }
  config_.schedule.steps_per_epoch = static_cast<uint32_t>(steps);
  const TrainStepOptions options{config_.schedule, config_.max_norm, config_.seed, config_.profile};
  DatasetProgram& program = programs_->train_step(tensors(), data, options, [&](const DatasetCursor& cursor) {
    return runner_->record_reports(cursor, *counters_);
  });
  const auto order = ref::epoch_order(data.count(), config_.seed, epoch_);
  upload(context_, program.cursor.order, std::span<const uint32_t>(order));
  reset_counter(context_, program.cursor.position, 0);
  reset_counter(context_, counters_->status, 0);
  reset_counter(context_, counters_->first_bad, 0);
  upload(context_, program.cursor.totals, std::span<const float>(std::vector<float>(4, 0.0f)));

  const auto start = std::chrono::steady_clock::now();
  const uint64_t step_base = step_;
  Metrics running;
  runner_->run(*program.recording, program.reports, steps, [&](const ChunkReport& report, int64_t done, int64_t queued) {
    step_ = step_base + static_cast<uint64_t>(report.diverged() || report.label_out_of_range() ? queued : done);
    if (report.diverged()) {
      throw NumericalError(fmt::format("the training loss became NaN or inf at step {} (epoch {}); lower the learning "
                                       "rate, or turn on max-norm. The weights are no longer usable; the last saved "
                                       "checkpoint is untouched.", report.first_bad_step(), epoch_ + 1));
    }
    if (report.label_out_of_range()) {
      throw DataError(fmt::format("data set {} has a label outside [0, {})", data.name(),
                                  programs_->train_activations().act.back().dim(1)));
    }
    const float seen = std::max(1.0f, report.totals[2]);
    running.samples = static_cast<int64_t>(report.totals[2]);
    running.loss = report.totals[0] / seen;
    running.error = 1.0 - report.totals[1] / seen;
    if (progress) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      progress(Progress{done, steps, running, seconds});
    }
  });
  if (config_.profile) last_timings_ = program.recording->timings();
  ++epoch_;
  return running;
}

Metrics Model::run_evaluation(const DeviceDataset& data) {
  check_dataset(data);
  DatasetProgram& program = programs_->eval_pass(tensors(), data, config_.seed);
  reset_counter(context_, program.cursor.position, 0);
  reset_counter(context_, counters_->status, 0);
  upload(context_, program.cursor.totals, std::span<const float>(std::vector<float>(4, 0.0f)));
  const int64_t batches = (data.count() + config_.eval_batch_size - 1) / config_.eval_batch_size;
  program.recording->run(static_cast<uint32_t>(batches));
  if (download_u32(context_, counters_->status)[0] & 1u) {
    throw DataError(fmt::format("data set {} has a label outside [0, {})", data.name(),
                                programs_->eval_activations().act.back().dim(1)));
  }
  const auto totals = download_f32(context_, program.cursor.totals);
  if (!std::isfinite(totals[0])) {
    throw NumericalError(fmt::format("the loss on {} is NaN or inf: the weights are no longer finite (the last update "
                                     "diverged); lower the learning rate, or turn on max-norm", data.name()));
  }
  Metrics m;
  m.samples = data.count();
  m.loss = totals[0] / static_cast<double>(data.count());
  m.error = 1.0 - totals[1] / static_cast<double>(data.count());
  return m;
}

std::vector<float> Model::predict(std::span<const float> inputs, int64_t n) {
  return training_ ? predict_mc(inputs, n, 1) : run_prediction(inputs, n, /*stochastic=*/false, 1);
}

std::vector<float> Model::predict_mc(std::span<const float> inputs, int64_t n, int passes,
                                     const std::function<void(const PredictProgress&)>& progress) {
  if (passes < 1) throw ArgumentError(fmt::format("predict_mc: passes must be at least 1, got {}", passes));
  auto probs = run_prediction(inputs, n, /*stochastic=*/true, static_cast<uint32_t>(passes), progress);
  if (passes > 1) {
    const float scale = 1.0f / static_cast<float>(passes);
    for (float& p : probs) p *= scale;
  }
  return probs;
}

// The deterministic pass writes the probabilities; the stochastic one (dropout on, masks from its own
// counter and seed, so Monte Carlo dropout never repeats a training mask) adds them to a zeroed sum and
// advances its counter, so `passes` replays in one submission sum `passes` independent draws; split over
// several submissions (to report progress), they sum the same draws in the same order.
std::vector<float> Model::run_prediction(std::span<const float> inputs, int64_t n, bool stochastic, uint32_t passes,
                                         const std::function<void(const PredictProgress&)>& progress) {
  const int64_t features = element_count(sample_shape_);
  if (n < 0 || static_cast<int64_t>(inputs.size()) != n * features) {
    throw ShapeError(fmt::format("predict: {} values for {} samples of shape {}", inputs.size(), n, shape_text(sample_shape_)));
  }
  const Activations& a = programs_->eval_activations();
  const Tensor& probs_tensor = programs_->probabilities();
  const int64_t classes = probs_tensor.dim(1);
  Recorder& rec = programs_->prediction(tensors(), stochastic, stochastic ? config_.seed ^ k_mc_seed_salt : config_.seed);
  std::vector<float> probs(static_cast<size_t>(n * classes));
  const auto began = std::chrono::steady_clock::now();
  PredictProgress report{0, n * passes, 0.0};
  std::vector<float> batch(static_cast<size_t>(a.batch * features), 0.0f);
  const std::vector<float> zeros = stochastic ? std::vector<float>(static_cast<size_t>(probs_tensor.numel()), 0.0f)
                                              : std::vector<float>{};
  for (int64_t first = 0; first < n; first += a.batch) {
    const int64_t rows = std::min(a.batch, n - first);
    std::fill(batch.begin(), batch.end(), 0.0f);
    std::copy_n(inputs.begin() + first * features, rows * features, batch.begin());
    upload(context_, a.act.front(), std::span<const float>(batch));
    if (stochastic) upload(context_, probs_tensor, std::span<const float>(zeros));
    if (progress) {
      submit_reporting(rec, passes, rows, began, report, progress);
    } else {
      rec.run(passes);
    }
    const auto out = download_f32(context_, probs_tensor);
    std::copy_n(out.begin(), rows * classes, probs.begin() + first * classes);
  }
  return probs;
}

std::vector<NamedTensor> Model::state_dict() { return store_->state_dict(); }

void Model::load_state_dict(const std::vector<NamedTensor>& tensors) {
  std::vector<std::string> problems;
  const ParameterStore::Contents contents = store_->gather(tensors, /*exact=*/true, problems);
  throw_if_problems(problems, "the checkpoint");
  store_->upload(contents);
}

void Model::throw_if_problems(const std::vector<std::string>& problems, const std::string& what) const {
  if (problems.empty()) return;
  std::string text;
  for (const auto& p : problems) text += "\n  " + p;
  throw DataError(fmt::format("{} does not fit this model ({} problem{}):{}\nthe model is:\n{}", what,
                              problems.size(), problems.size() == 1 ? "" : "s", text, net_.describe()));
}

std::string Model::summary() const {
  const std::vector<Shape> shapes = net_.shapes(with_batch(config_.batch_size, sample_shape_));
  std::string text = fmt::format("Sequential(  # input {}\n", torch_size(shapes[0]));
  for (size_t i = 0; i < net_.size(); ++i)
    text += fmt::format("  ({}): {}  # -> {}\n", i, net_[i].describe(), torch_size(shapes[i + 1]));
  return fmt::format("{})\n{} parameters; arena {:.1f} MiB on {}", text, parameter_count(),
                     static_cast<double>(arena_.bytes_reserved()) / (1 << 20), context_.info().name);
}

}  // namespace vkdrop

#include <vkdrop/train/model.hpp>

#include <vkdrop/ops/batch.hpp>
#include <vkdrop/ops/loss_guard.hpp>
#include <vkdrop/ops/optimizers.hpp>
#include <vkdrop/ops/schedule.hpp>
#include <vkdrop/ops/softmax.hpp>
#include <vkdrop/ops/softmax_xent.hpp>
#include <vkdrop/reference/philox.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/host_buffer.hpp>
#include <vkdrop/runtime/kernel.hpp>
#include <vkdrop/train/safetensors.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <random>

namespace vkdrop {

namespace {

using Clock = std::chrono::steady_clock;

// Salt for the masks drawn by predict() in train mode, so Monte Carlo dropout never repeats a training mask.
constexpr uint64_t k_mc_seed_salt = 0x4d43'2d64'726f'7000ull;  // "MC-drop"

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// This epoch's sample order: a Fisher-Yates shuffle driven by Philox (seed, epoch), so it is the same on
// every platform and standard library, and a resumed run sees the orders an uninterrupted one would.
std::vector<uint32_t> epoch_order(int64_t count, uint64_t seed, uint64_t epoch) {
  std::vector<uint32_t> order(static_cast<size_t>(count));
  std::iota(order.begin(), order.end(), 0u);
  const std::array<uint32_t, 2> key = {uint32_t(seed), uint32_t(seed >> 32)};
  for (int64_t i = count - 1; i > 0; --i) {
    const auto words = ref::philox4x32({uint32_t(i), 0x5348'5546u /* "SHUF" */, uint32_t(epoch), uint32_t(epoch >> 32)}, key);
    const uint64_t r = (uint64_t(words[0]) << 32 | words[1]) % uint64_t(i + 1);  // bias < 2^-32
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(r)]);
  }
  return order;
}

uint64_t aligned_floats(uint64_t floats, uint64_t align_bytes) {
  const uint64_t align = std::max<uint64_t>(align_bytes / 4, 1);
  return (floats + align - 1) / align * align;
}

Shape with_batch(int64_t batch, const Shape& sample) {
  Shape shape{batch};
  shape.insert(shape.end(), sample.begin(), sample.end());
  return shape;
}

struct CounterParams {
  uint32_t index, amount;
};

ops::SgdConfig to_ops(const SGD& sgd) { return {static_cast<float>(sgd.weight_decay), sgd.nesterov}; }
ops::AdamConfig to_ops(const Adam& adam) {
  return {adam.beta1, adam.beta2, static_cast<float>(adam.eps), static_cast<float>(adam.weight_decay), adam.decoupled};
}

// What a chunk of training steps leaves for the host, copied into a host-visible slot after the chunk.
struct Report {
  float totals[4];        // Dataset::totals: loss sum, correct count, samples, 0
  uint32_t first_bad[2];  // Model::first_bad_
  uint32_t status;        // Model::status_
  uint32_t padding;
};
static_assert(sizeof(Report) == 32);

}  // namespace

// Activations for one batch size: act[i] is the input of layer i (act[0] the batch, act.back() the logits),
// grad[i] its gradient (empty where nobody needs it).
struct Model::Activations {
  int64_t batch = 0;
  std::vector<Tensor> act, grad;
  Tensor labels;       // (batch) i32
  Tensor row_loss;     // (batch) f32
  Tensor row_correct;  // (batch) u32
};

// What the model keeps per data set it has seen: the order, the position counter, the running sums and
// the recording that consumes them.
struct Model::Dataset {
  uint64_t id = 0;
  Tensor order;     // (count) u32
  Tensor position;  // (2) u32
  Tensor totals;    // (4) f32
  std::unique_ptr<Recorder> recording;
  std::array<std::unique_ptr<Recorder>, 2> reports;  // training only: copy the totals into readback slot 0 / 1
};

Model::Model(Context& context, const Sequential& net, Shape sample_shape, TrainConfig config)
    : context_(context), net_(net), sample_shape_(std::move(sample_shape)), config_(config), arena_(context, 32ull << 20) {
  if (config_.batch_size <= 0) throw ArgumentError(fmt::format("batch size must be positive, got {}", config_.batch_size));
  if (config_.eval_batch_size <= 0)
    throw ArgumentError(fmt::format("eval batch size must be positive, got {}", config_.eval_batch_size));
  if (!(config_.max_norm >= 0)) throw ArgumentError(fmt::format("max-norm must be >= 0 (0 = off), got {}", config_.max_norm));
  config_.schedule.validate();  // here, not at the first step
  std::visit([](const auto& optimizer) { ops::check_config(to_ops(optimizer)); }, config_.optimizer);
  if (sample_shape_.empty()) throw ShapeError("the sample shape is empty; MNIST for an MLP is {784}");
  shapes_ = net_.shapes(with_batch(config_.batch_size, sample_shape_));
  const Shape& logits = shapes_.back();
  if (logits.size() != 2) {
    throw ShapeError(fmt::format("the last layer gives {}; softmax cross-entropy needs (batch, classes)", shape_text(logits)));
  }
  classes_ = logits[1];
  for (size_t i = 0; i < net_.size(); ++i) net_[i].set_layer_id(static_cast<uint32_t>(i));

  // One flat layout for parameters, gradients and optimizer state; every parameter starts at an offset a
  // shader may bind (minStorageBufferOffsetAlignment), padding stays zero and is never updated away from it.
  const uint64_t align = context_.info().min_storage_buffer_offset_alignment;
  struct Placement {
    size_t layer;
    ParameterSpec spec;
    uint64_t offset;  // in floats
  };
  std::vector<Placement> placements;
  uint64_t total = 0;
  for (size_t i = 0; i < net_.size(); ++i) {
    for (const ParameterSpec& spec : net_[i].parameters()) {
      placements.push_back({i, spec, total});
      total = aligned_floats(total + static_cast<uint64_t>(element_count(spec.shape)), align);
      parameter_count_ += element_count(spec.shape);
    }
  }
  const Shape flat{static_cast<int64_t>(total)};
  params_ = make_tensor(arena_, flat, DType::f32, "parameters");
  grads_ = make_tensor(arena_, flat, DType::f32, "gradients");
  const bool adam = std::holds_alternative<Adam>(config_.optimizer);
  state1_ = make_tensor(arena_, flat, DType::f32, adam ? "exp_avg" : "momentum_buffer");
  if (adam) state2_ = make_tensor(arena_, flat, DType::f32, "exp_avg_sq");

  layer_params_.resize(net_.size());
  layer_grads_.resize(net_.size());
  for (const Placement& p : placements) {
    const uint64_t bytes = static_cast<uint64_t>(element_count(p.spec.shape)) * 4;
    const std::string name = fmt::format("{}.{}", p.layer, p.spec.name);
    layer_params_[p.layer].push_back(Tensor{params_.slice.sub(p.offset * 4, bytes), p.spec.shape, DType::f32, name});
    layer_grads_[p.layer].push_back(Tensor{grads_.slice.sub(p.offset * 4, bytes), p.spec.shape, DType::f32, name + ".grad"});
    param_names_.push_back(name);
  }
  for (auto& layer : layer_params_)
    for (Tensor& t : layer) param_views_.push_back(&t);

  // Initialize on the host with a generator whose sequence the C++ standard fixes, then upload once.
  std::vector<float> host(total, 0.0f);
  std::mt19937_64 rng(config_.seed);
  size_t next = 0;
  for (size_t i = 0; i < net_.size(); ++i) {
    const auto specs = net_[i].parameters();
    std::vector<std::vector<float>> values;
    for (const auto& spec : specs) values.emplace_back(static_cast<size_t>(element_count(spec.shape)));
    net_[i].initialize(values, rng, config_.init);
    for (auto& v : values) std::copy(v.begin(), v.end(), host.begin() + static_cast<int64_t>(placements[next++].offset));
  }
  upload(context_, params_, std::span<const float>(host));
  std::fill(host.begin(), host.end(), 0.0f);
  upload(context_, grads_, std::span<const float>(host));
  upload(context_, state1_, std::span<const float>(host));
  if (adam) upload(context_, state2_, std::span<const float>(host));

  step_counter_ = make_tensor(arena_, {2}, DType::u32, "step");
  hyper_ = make_tensor(arena_, {4}, DType::f32, "hyper");
  status_ = make_tensor(arena_, {1}, DType::u32, "status");
  first_bad_ = make_tensor(arena_, {2}, DType::u32, "first bad step");
  mc_step_ = make_tensor(arena_, {2}, DType::u32, "monte carlo step");
  readback_ = std::make_unique<HostBuffer>(context_, 2 * sizeof(Report));
  for (const Tensor* t : {&step_counter_, &status_, &first_bad_, &mc_step_}) reset_counter(*t, 0);

  auto make_activations = [&](int64_t batch, bool with_grads) {
    auto acts = std::make_unique<Activations>();
    acts->batch = batch;
    const auto shapes = net_.shapes(with_batch(batch, sample_shape_));
    // The gradient at boundary i is needed only if a layer before it has parameters: nobody needs dL/dx of
    // the data, nor of what parameter-free layers (an input Dropout) made of it.
    bool parameters_below = false;
    for (size_t i = 0; i < shapes.size(); ++i) {
      acts->act.push_back(make_tensor(arena_, shapes[i], DType::f32, fmt::format("activation {}", i)));
      acts->grad.push_back(with_grads && parameters_below
                               ? make_tensor(arena_, shapes[i], DType::f32, fmt::format("gradient {}", i))
                               : Tensor{BufferSlice{}, shapes[i], DType::f32, "unused gradient"});
      if (i < net_.size() && !net_[i].parameters().empty()) parameters_below = true;
    }
    acts->labels = make_tensor(arena_, {batch}, DType::i32, "labels");
    acts->row_loss = make_tensor(arena_, {batch}, DType::f32, "row loss");
    acts->row_correct = make_tensor(arena_, {batch}, DType::u32, "row correct");
    return acts;
  };
  train_acts_ = make_activations(config_.batch_size, true);
  eval_acts_ = make_activations(config_.eval_batch_size, false);
  predict_probs_ = make_tensor(arena_, eval_acts_->act.back().shape, DType::f32, "probabilities");
}

Model::~Model() = default;

void Model::reset_counter(const Tensor& t, uint64_t value) {
  std::vector<uint32_t> words(static_cast<size_t>(t.numel()), 0u);
  if (!words.empty()) words[0] = uint32_t(value);
  if (words.size() > 1) words[1] = uint32_t(value >> 32);
  upload(context_, t, std::span<const uint32_t>(words));
}

std::vector<uint32_t> Model::read_u32(const Tensor& t) { return download_u32(context_, t); }

void Model::record_forward(Recorder& rec, Activations& acts, const PassState& state) {
  for (size_t i = 0; i < net_.size(); ++i) {
    LayerTensors t{acts.act[i], acts.act[i + 1], acts.grad[i], acts.grad[i + 1], layer_params_[i], layer_grads_[i]};
    net_[i].forward(rec, t, state);
  }
}

std::unique_ptr<Recorder> Model::record_train_step(const DeviceDataset& data, const Dataset& d) {
  Activations& a = *train_acts_;
  auto rec = std::make_unique<Recorder>(context_, RecorderOptions{.timestamps = config_.profile, .max_in_flight = 2});
  const PassState state{&step_counter_, config_.seed, true};

  ops::schedule(*rec, hyper_, step_counter_, config_.schedule);
  ops::gather_batch(*rec, a.act.front(), a.labels, data.images(), data.labels(), d.order, d.position, data.scale());
  record_forward(*rec, a, state);
  ops::softmax_xent(*rec, a.grad.back(), a.row_loss, a.row_correct, a.act.back(), a.labels, status_);
  ops::accumulate_metrics(*rec, d.totals, a.row_loss, a.row_correct);
  ops::loss_guard(*rec, first_bad_, d.totals, step_counter_);
  for (size_t i = net_.size(); i-- > 0;) {
    LayerTensors t{a.act[i], a.act[i + 1], a.grad[i], a.grad[i + 1], layer_params_[i], layer_grads_[i]};
    net_[i].backward(*rec, t, state);
  }
  if (const auto* sgd = std::get_if<SGD>(&config_.optimizer)) {
    ops::sgd_step(*rec, params_, grads_, state1_, hyper_, to_ops(*sgd));
  } else {
    ops::adam_step(*rec, params_, grads_, state1_, state2_, hyper_, step_counter_, to_ops(std::get<Adam>(config_.optimizer)));
  }
  if (config_.max_norm > 0) {
    // Each unit's incoming weights: the rows of every 2-D weight (Linear's (out, in)).
    for (auto& layer : layer_params_)
      for (Tensor& p : layer)
        if (p.rank() == 2) ops::max_norm(*rec, p, static_cast<float>(config_.max_norm));
  }
  const Kernel& counter_add = context_.kernel("counter_add");
  rec->dispatch(counter_add, {step_counter_.slice}, CounterParams{0, 1}, {1, 1, 1}, "step += 1");
  rec->dispatch(counter_add, {d.position.slice}, CounterParams{0, static_cast<uint32_t>(a.batch)}, {1, 1, 1},
                "position += batch");
  rec->finish();
  return rec;
}

std::unique_ptr<Recorder> Model::record_eval_pass(const DeviceDataset& data, const Dataset& d) {
  Activations& a = *eval_acts_;
  auto rec = std::make_unique<Recorder>(context_);
  const PassState state{&step_counter_, config_.seed, false};
  ops::gather_batch(*rec, a.act.front(), a.labels, data.images(), data.labels(), d.order, d.position, data.scale());
  record_forward(*rec, a, state);
  const Tensor no_gradient{BufferSlice{}, {0}, DType::f32, "no gradient"};  // eval: loss only
  ops::softmax_xent(*rec, no_gradient, a.row_loss, a.row_correct, a.act.back(), a.labels, status_);
  ops::mask_rows(*rec, a.row_loss, a.row_correct, d.position, data.count());
  ops::accumulate_metrics(*rec, d.totals, a.row_loss, a.row_correct);
  rec->dispatch(context_.kernel("counter_add"), {d.position.slice}, CounterParams{0, static_cast<uint32_t>(a.batch)},
                {1, 1, 1}, "position += batch");
  rec->finish();
  return rec;
}

void Model::check_dataset(const DeviceDataset& data) const {
  if (data.sample_shape() != sample_shape_) {
    throw ShapeError(fmt::format("data set {} has samples of shape {}; the model was compiled for {}", data.name(),
                                 shape_text(data.sample_shape()), shape_text(sample_shape_)));
  }
  if (data.count() == 0) throw ArgumentError(fmt::format("data set {} is empty", data.name()));
}

Metrics Model::train_epoch(const DeviceDataset& data, const std::function<void(const Progress&)>& progress) {
  check_dataset(data);
  const int64_t steps = data.count() / config_.batch_size;
  if (steps == 0) {
    throw ArgumentError(fmt::format("data set {} has {} samples, fewer than one batch of {}", data.name(), data.count(),
                                    config_.batch_size));
  }
  std::unique_ptr<Dataset>& cached = train_sets_[data.id()];
  if (!cached) {  // built whole or not at all: a failed recording leaves nothing half-made behind
    config_.schedule.steps_per_epoch = static_cast<uint32_t>(steps);
    auto d = std::make_unique<Dataset>();
    d->id = data.id();
    d->order = make_tensor(arena_, {data.count()}, DType::u32, "train order");
    d->position = make_tensor(arena_, {2}, DType::u32, "train position");
    d->totals = make_tensor(arena_, {4}, DType::f32, "train totals");
    d->recording = record_train_step(data, *d);
    for (size_t slot = 0; slot < 2; ++slot) {
      auto rec = std::make_unique<Recorder>(context_);
      const BufferSlice out = readback_->slice().sub(slot * sizeof(Report), sizeof(Report));
      rec->copy(d->totals.slice, out.sub(offsetof(Report, totals), sizeof(Report::totals)));
      rec->copy(first_bad_.slice, out.sub(offsetof(Report, first_bad), sizeof(Report::first_bad)));
      rec->copy(status_.slice, out.sub(offsetof(Report, status), sizeof(Report::status)));
      rec->finish();
      d->reports[slot] = std::move(rec);
    }
    cached = std::move(d);
  }
  Dataset& d = *cached;
  last_trained_ = &d;
  const auto order = epoch_order(data.count(), config_.seed, epoch_);
  upload(context_, d.order, std::span<const uint32_t>(order));
  reset_counter(d.position, 0);
  reset_counter(status_, 0);
  reset_counter(first_bad_, 0);
  upload(context_, d.totals, std::span<const float>(std::vector<float>(4, 0.0f)));

  // Two chunks of steps in flight: while the device runs chunk k+1, the host reads what chunk k's report
  // copied into its own host-visible slot (running totals, first non-finite step, status). The device
  // never waits for the host, and the host never reads a slot the device is writing.
  Recorder& steps_rec = *d.recording;
  struct Drain {  // however this function is left, none of its work is still running
    std::array<Recorder*, 3> recs;
    ~Drain() {
      for (Recorder* r : recs) {
        try {
          r->wait();
        } catch (const Error&) {  // a lost device: the next call reports it
        }
      }
    }
  } drain{{&steps_rec, d.reports[0].get(), d.reports[1].get()}};

  const auto start = Clock::now();
  const uint64_t queued_steps_base = step_;
  int64_t queued = 0, done = 0, chunk = 1, launched = 0, read = 0;
  std::array<int64_t, 2> ends{};  // steps done when the chunk in each slot has finished
  double submit_seconds = 0;
  auto launch = [&] {
    const int64_t n = std::min(chunk, steps - queued);
    const auto t0 = Clock::now();
    steps_rec.submit(static_cast<uint32_t>(n));
    d.reports[launched % 2]->submit();
    submit_seconds += seconds_since(t0);
    queued += n;
    ends[launched % 2] = queued;
    ++launched;
  };
  Metrics running;
  launch();
  while (done < steps) {
    if (queued < steps) launch();
    const size_t slot = static_cast<size_t>(read % 2);
    d.reports[slot]->wait();
    ++read;
    const int64_t n = ends[slot] - done;
    done = ends[slot];
    step_ += static_cast<uint64_t>(n);

    Report report;
    readback_->read(slot * sizeof(Report), &report, 1);
    if (report.first_bad[0] != 0 || report.first_bad[1] != 0 || (report.status & 1u)) {
      steps_rec.wait();  // the next chunk ran on: count its steps too
      step_ = queued_steps_base + static_cast<uint64_t>(queued);
    }
    if (report.first_bad[0] != 0 || report.first_bad[1] != 0) {
      const uint64_t at = (uint64_t(report.first_bad[1]) << 32 | report.first_bad[0]) - 1;
      throw NumericalError(fmt::format("the training loss became NaN or inf at step {} (epoch {}); lower the learning "
                                       "rate, or turn on max-norm. The weights are no longer usable; the last saved "
                                       "checkpoint is untouched.", at, epoch_ + 1));
    }
    if (report.status & 1u) {
      throw DataError(fmt::format("data set {} has a label outside [0, {})", data.name(), classes_));
    }
    running.samples = static_cast<int64_t>(report.totals[2]);
    running.loss = report.totals[0] / std::max(1.0f, report.totals[2]);
    running.error = 1.0 - report.totals[1] / std::max(1.0f, report.totals[2]);
    if (progress) progress(Progress{done, steps, running, seconds_since(start)});
    // Size the next chunks to keep the device busy for ~0.25 s between host reads.
    const double per_step = seconds_since(start) / static_cast<double>(done);
    chunk = std::clamp<int64_t>(static_cast<int64_t>(0.25 / std::max(per_step, 1e-6)), 1, 1024);
  }
  host_seconds_per_step_ = submit_seconds / static_cast<double>(steps);
  ++epoch_;
  return running;
}

Metrics Model::evaluate(const DeviceDataset& data) {
  check_dataset(data);
  std::unique_ptr<Dataset>& cached = eval_sets_[data.id()];
  if (!cached) {
    auto d = std::make_unique<Dataset>();
    d->id = data.id();
    d->order = make_tensor(arena_, {data.count()}, DType::u32, "eval order");
    d->position = make_tensor(arena_, {2}, DType::u32, "eval position");
    d->totals = make_tensor(arena_, {4}, DType::f32, "eval totals");
    std::vector<uint32_t> identity(static_cast<size_t>(data.count()));
    std::iota(identity.begin(), identity.end(), 0u);
    upload(context_, d->order, std::span<const uint32_t>(identity));
    d->recording = record_eval_pass(data, *d);
    cached = std::move(d);
  }
  Dataset& d = *cached;
  reset_counter(d.position, 0);
  reset_counter(status_, 0);
  upload(context_, d.totals, std::span<const float>(std::vector<float>(4, 0.0f)));
  const int64_t batches = (data.count() + config_.eval_batch_size - 1) / config_.eval_batch_size;
  d.recording->run(static_cast<uint32_t>(batches));
  if (read_u32(status_)[0] & 1u) {
    throw DataError(fmt::format("data set {} has a label outside [0, {})", data.name(), classes_));
  }
  const auto totals = download_f32(context_, d.totals);
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

std::vector<float> Model::predict_mc(std::span<const float> inputs, int64_t n, int passes) {
  if (passes < 1) throw ArgumentError(fmt::format("predict_mc: passes must be at least 1, got {}", passes));
  auto probs = run_prediction(inputs, n, /*stochastic=*/true, static_cast<uint32_t>(passes));
  if (passes > 1) {
    const float scale = 1.0f / static_cast<float>(passes);
    for (float& p : probs) p *= scale;
  }
  return probs;
}

// The deterministic pass writes the probabilities; the stochastic one (dropout on, masks from its own
// counter and seed, so Monte Carlo dropout never repeats a training mask) adds them to a zeroed sum and
// advances its counter, so `passes` replays in one submission sum `passes` independent draws.
std::vector<float> Model::run_prediction(std::span<const float> inputs, int64_t n, bool stochastic, uint32_t passes) {
  const int64_t features = element_count(sample_shape_);
  if (n < 0 || static_cast<int64_t>(inputs.size()) != n * features) {
    throw ShapeError(fmt::format("predict: {} values for {} samples of shape {}", inputs.size(), n, shape_text(sample_shape_)));
  }
  Activations& a = *eval_acts_;
  std::unique_ptr<Recorder>& rec = stochastic ? predict_stochastic_ : predict_eval_;
  if (!rec) {
    auto made = std::make_unique<Recorder>(context_);
    const PassState state = stochastic ? PassState{&mc_step_, config_.seed ^ k_mc_seed_salt, true}
                                       : PassState{&step_counter_, config_.seed, false};
    record_forward(*made, a, state);
    ops::softmax(*made, predict_probs_, a.act.back(), stochastic ? ops::SoftmaxOutput::Accumulate : ops::SoftmaxOutput::Write);
    if (stochastic)
      made->dispatch(context_.kernel("counter_add"), {mc_step_.slice}, CounterParams{0, 1}, {1, 1, 1}, "mc step += 1");
    made->finish();
    rec = std::move(made);
  }
  std::vector<float> probs(static_cast<size_t>(n * classes_));
  std::vector<float> batch(static_cast<size_t>(a.batch * features), 0.0f);
  const std::vector<float> zeros = stochastic ? std::vector<float>(static_cast<size_t>(predict_probs_.numel()), 0.0f)
                                              : std::vector<float>{};
  for (int64_t first = 0; first < n; first += a.batch) {
    const int64_t rows = std::min(a.batch, n - first);
    std::fill(batch.begin(), batch.end(), 0.0f);
    std::copy_n(inputs.begin() + first * features, rows * features, batch.begin());
    upload(context_, a.act.front(), std::span<const float>(batch));
    if (stochastic) upload(context_, predict_probs_, std::span<const float>(zeros));
    rec->run(passes);
    const auto out = download_f32(context_, predict_probs_);
    std::copy_n(out.begin(), rows * classes_, probs.begin() + first * classes_);
  }
  return probs;
}

std::vector<NamedTensor> Model::state_dict() {
  const auto flat = download_f32(context_, params_);
  std::vector<NamedTensor> tensors;
  for (const Tensor* p : param_views_) {
    const auto begin = flat.begin() + static_cast<int64_t>((p->slice.offset - params_.slice.offset) / 4);
    tensors.push_back(NamedTensor{p->name, p->shape, std::vector<float>(begin, begin + p->numel())});
  }
  return tensors;
}

void Model::load_state_dict(const std::vector<NamedTensor>& tensors) {
  std::vector<std::string> problems;
  const std::vector<float> flat = gather_parameters(tensors, "", problems);
  for (const NamedTensor& t : tensors) {
    if (std::find(param_names_.begin(), param_names_.end(), t.name) == param_names_.end())
      problems.push_back(fmt::format("unexpected {} {}", t.name, shape_text(t.shape)));
  }
  throw_if_problems(problems, "the checkpoint");
  upload(context_, params_, std::span<const float>(flat));
}

// The flat layout of params_ filled from tensors named prefix + parameter name; what is missing or of
// another shape or size goes to `problems` (padding stays zero).
std::vector<float> Model::gather_parameters(const std::vector<NamedTensor>& tensors, const std::string& prefix,
                                            std::vector<std::string>& problems) const {
  std::vector<float> flat(static_cast<size_t>(params_.numel()), 0.0f);
  for (const Tensor* p : param_views_) {
    const std::string name = prefix + p->name;
    auto it = std::find_if(tensors.begin(), tensors.end(), [&](const NamedTensor& t) { return t.name == name; });
    if (it == tensors.end()) {
      problems.push_back(fmt::format("missing {} {}", name, shape_text(p->shape)));
    } else if (it->shape != p->shape) {
      problems.push_back(fmt::format("{}: the model has {}, the checkpoint {}", name, shape_text(p->shape),
                                     shape_text(it->shape)));
    } else if (static_cast<int64_t>(it->values.size()) != p->numel()) {
      problems.push_back(fmt::format("{}: shape {} but {} values", name, shape_text(it->shape), it->values.size()));
    } else {
      std::copy(it->values.begin(), it->values.end(),
                flat.begin() + static_cast<int64_t>((p->slice.offset - params_.slice.offset) / 4));
    }
  }
  return flat;
}

void Model::throw_if_problems(const std::vector<std::string>& problems, const std::string& what) const {
  if (problems.empty()) return;
  std::string text;
  for (const auto& p : problems) text += "\n  " + p;
  throw DataError(fmt::format("{} does not fit this model ({} problem{}):{}\nthe model is:\n{}", what,
                              problems.size(), problems.size() == 1 ? "" : "s", text, net_.describe()));
}

std::string Model::summary() const {
  return fmt::format("{}\n{} parameters; arena {:.1f} MiB on {}", net_.describe(), parameter_count_,
                     static_cast<double>(arena_.bytes_reserved()) / (1 << 20), context_.info().name);
}

std::vector<DispatchTiming> Model::step_timings() const {
  return last_trained_ ? last_trained_->recording->timings() : std::vector<DispatchTiming>{};
}

}  // namespace vkdrop

#include <vkdrop/train/programs.hpp>

#include <vkdrop/ops/batch.hpp>
#include <vkdrop/ops/counter.hpp>
#include <vkdrop/ops/loss_guard.hpp>
#include <vkdrop/ops/optimizers.hpp>
#include <vkdrop/ops/schedule.hpp>
#include <vkdrop/ops/softmax.hpp>
#include <vkdrop/ops/softmax_xent.hpp>
#include <vkdrop/runtime/context.hpp>

#include <numeric>
#include <vector>

namespace vkdrop {

namespace {

void record_forward(Recorder& rec, const ModelTensors& m, const Activations& a, const PassState& state) {
  for (size_t i = 0; i < m.net.size(); ++i) {
    if (!m.net[i].is_view() && !a.folded[i]) m.net[i].forward(rec, a.layer(i, m.store), state);
  }
}

void record_backward(Recorder& rec, const ModelTensors& m, const Activations& a, const PassState& state) {
  for (size_t i = m.net.size(); i-- > 0;) {
    if (!m.net[i].is_view() && !a.folded[i]) m.net[i].backward(rec, a.layer(i, m.store), state);
  }
}

}  // namespace

DeviceCounters DeviceCounters::make(Context& context, Arena& arena) {
  DeviceCounters c{make_tensor(arena, {2}, DType::u32, "step"), make_tensor(arena, {4}, DType::f32, "hyper"),
                   make_tensor(arena, {1}, DType::u32, "status"), make_tensor(arena, {2}, DType::u32, "first bad step"),
                   make_tensor(arena, {2}, DType::u32, "monte carlo step")};
  for (const Tensor* t : {&c.step, &c.status, &c.first_bad, &c.mc_step}) reset_counter(context, *t, 0);
  return c;
}

void reset_counter(Context& context, const Tensor& counter, uint64_t value) {
  std::vector<uint32_t> words(static_cast<size_t>(counter.numel()), 0u);
  if (!words.empty()) words[0] = uint32_t(value);
  if (words.size() > 1) words[1] = uint32_t(value >> 32);
  upload(context, counter, std::span<const uint32_t>(words));
}

std::unique_ptr<Recorder> record_train_step(const ModelTensors& m, const Activations& a, const DeviceDataset& data,
                                            const DatasetCursor& cursor, const TrainStepOptions& options) {
  const DeviceCounters& c = m.counters;
  auto rec = std::make_unique<Recorder>(m.context, RecorderOptions{.timestamps = options.timestamps, .max_in_flight = 2});
  const PassState state{&c.step, options.seed, /*training=*/true, /*dropout=*/true};

  ops::schedule(*rec, c.hyper, c.step, options.schedule);
  ops::gather_batch(*rec, a.act.front(), a.labels, data.images(), data.labels(), cursor.order, cursor.position,
                    data.scale());
  record_forward(*rec, m, a, state);
  ops::softmax_xent(*rec, a.grad.back(), a.row_loss, a.row_correct, a.act.back(), a.labels, c.status);
  ops::accumulate_metrics(*rec, cursor.totals, a.row_loss, a.row_correct);
  ops::loss_guard(*rec, c.first_bad, cursor.totals, c.step);
  record_backward(*rec, m, a, state);
  m.optimizer.record_step(*rec, OptimizerTensors{m.store.parameters(), m.store.gradients(), m.optimizer_state,
                                                 c.hyper, c.step, m.store.max_norm_rows(),
                                                 static_cast<float>(options.max_norm)});
  ops::counter_add(*rec, c.step, 1, "step += 1");
  ops::counter_add(*rec, cursor.position, static_cast<uint32_t>(a.batch), "position += batch");
  rec->finish();
  return rec;
}

std::unique_ptr<Recorder> record_eval_pass(const ModelTensors& m, const Activations& a, const DeviceDataset& data,
                                           const DatasetCursor& cursor, uint64_t seed) {
  const DeviceCounters& c = m.counters;
  auto rec = std::make_unique<Recorder>(m.context);
  const PassState state{&c.step, seed, /*training=*/false, /*dropout=*/false};
  ops::gather_batch(*rec, a.act.front(), a.labels, data.images(), data.labels(), cursor.order, cursor.position,
                    data.scale());
  record_forward(*rec, m, a, state);
  const Tensor no_gradient{BufferSlice{}, {0}, DType::f32, "no gradient"};  // eval: loss only
  ops::softmax_xent(*rec, no_gradient, a.row_loss, a.row_correct, a.act.back(), a.labels, c.status);
  ops::mask_rows(*rec, a.row_loss, a.row_correct, cursor.position, data.count());
  ops::accumulate_metrics(*rec, cursor.totals, a.row_loss, a.row_correct);
  ops::counter_add(*rec, cursor.position, static_cast<uint32_t>(a.batch), "position += batch");
  rec->finish();
  return rec;
}

std::unique_ptr<Recorder> record_prediction(const ModelTensors& m, const Activations& a, const Tensor& probs,
                                            bool stochastic, uint64_t seed) {
  const DeviceCounters& c = m.counters;
  auto rec = std::make_unique<Recorder>(m.context);
  // Monte Carlo dropout draws masks from its own counter in an otherwise eval-mode pass.
  const PassState state = stochastic ? PassState{&c.mc_step, seed, /*training=*/false, /*dropout=*/true}
                                     : PassState{&c.step, seed, /*training=*/false, /*dropout=*/false};
  record_forward(*rec, m, a, state);
  ops::softmax(*rec, probs, a.act.back(), stochastic ? ops::SoftmaxOutput::Accumulate : ops::SoftmaxOutput::Write);
  if (stochastic) ops::counter_add(*rec, c.mc_step, 1, "mc step += 1");
  rec->finish();
  return rec;
}

Programs::Programs(Arena& arena, const Sequential& net, const Shape& sample, int64_t train_batch, int64_t eval_batch,
                   bool fuse_epilogues)
    : train_acts_(make_activations(arena, net, sample, train_batch, /*with_gradients=*/true, fuse_epilogues)),
      eval_acts_(make_activations(arena, net, sample, eval_batch, /*with_gradients=*/false, fuse_epilogues)),
      probs_(make_tensor(arena, eval_acts_.act.back().shape, DType::f32, "probabilities")) {}

DatasetProgram& Programs::train_step(
    const ModelTensors& m, const DeviceDataset& data, const TrainStepOptions& options,
    const std::function<std::array<std::unique_ptr<Recorder>, 2>(const DatasetCursor&)>& record_reports) {
  drop_expired();
  return train_sets_.get(m.context, data, [&](DatasetProgram& p) {
    p.recording = record_train_step(m, train_acts_, data, p.cursor, options);
    p.reports = record_reports(p.cursor);
  });
}

DatasetProgram& Programs::eval_pass(const ModelTensors& m, const DeviceDataset& data, uint64_t seed) {
  drop_expired();
  return eval_sets_.get(m.context, data, [&](DatasetProgram& p) {
    std::vector<uint32_t> identity(static_cast<size_t>(data.count()));
    std::iota(identity.begin(), identity.end(), 0u);
    upload(m.context, p.cursor.order, std::span<const uint32_t>(identity));
    p.recording = record_eval_pass(m, eval_acts_, data, p.cursor, seed);
  });
}

void Programs::drop_expired() {
  train_sets_.drop_expired();
  eval_sets_.drop_expired();
}

Recorder& Programs::prediction(const ModelTensors& m, bool stochastic, uint64_t seed) {
  std::unique_ptr<Recorder>& rec = stochastic ? predict_stochastic_ : predict_deterministic_;
  if (!rec) rec = record_prediction(m, eval_acts_, probs_, stochastic, seed);
  return *rec;
}

}  // namespace vkdrop

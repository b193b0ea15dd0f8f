// What the Model gives a layer: declared parameters (with their max-norm axis), persistent state and
// scratch, all in its one arena; samples of any shape and a Flatten that is a free view; recordings that
// never outlive their data set.
#include "gpu.hpp"
#include "synthetic.hpp"
#include "temp_dir.hpp"

#include <vkdrop/datasets/device_dataset.hpp>
#include <vkdrop/layers/batch_norm1d.hpp>
#include <vkdrop/layers/dropout.hpp>
#include <vkdrop/layers/flatten.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/relu.hpp>
#include <vkdrop/ops/elementwise.hpp>
#include <vkdrop/ops/matmul.hpp>
#include <vkdrop/ops/optimizers.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/train/model.hpp>

#include <filesystem>

using namespace vkdrop;
using Catch::Matchers::Contains;

namespace {

constexpr int64_t k_features = test::k_synthetic_features, k_classes = test::k_synthetic_classes;

DeviceDataset synthetic(Context& ctx, int64_t count, uint32_t seed, Shape sample = {k_features},
                        const std::string& name = "synthetic") {
  return test::synthetic_dataset(ctx, count, seed, name, std::move(sample));
}

TrainConfig config(double max_norm = 0.4) {
  TrainConfig c;
  c.batch_size = 16;
  c.eval_batch_size = 50;
  c.seed = 7;
  c.schedule.lr = 0.2;
  c.max_norm = max_norm;
  return c;
}

// Linear(in, out) written the way a new layer would be, using every kind of buffer:
//   weight (out, in / 2, 2)  a 3-D parameter whose units (axis 0) max-norm caps, as a conv filter's
//   bias (out)
//   marker (3)               state that nothing writes: the optimizer must leave it alone
//   last_output (out)        state that forward writes: row 0 of the latest output
//   saved_input (B, in)      scratch: forward keeps its input there and backward reads it back
// It initializes exactly as Linear(in, out), so the two must train to the same weights.
class BufferedLinear : public Layer {
 public:
  BufferedLinear(int64_t in, int64_t out) : in_(in), out_(out) {}
  std::string describe() const override { return fmt::format("BufferedLinear({}, {})", in_, out_); }
  Shape output_shape(const Shape& input) const override { return Linear(in_, out_).output_shape(input); }
  std::vector<BufferSpec> buffers(const Shape& input) const override {
    return {BufferSpec::parameter("weight", {out_, in_ / 2, 2}, 0), BufferSpec::parameter("bias", {out_}),
            BufferSpec::state("marker", {3}), BufferSpec::state("last_output", {out_}),
            BufferSpec::scratch("saved_input", input)};
  }
  void initialize(std::span<std::vector<float>> values, std::mt19937_64& rng, Init init) const override {
    Linear(in_, out_).initialize(values.subspan(0, 2), rng, init);
    std::fill(values[2].begin(), values[2].end(), 42.0f);
  }
  void forward(Recorder& rec, const LayerTensors& t, const PassState&) const override {
    ops::matmul(rec, t.output, t.input, reshaped(t.params[0], {out_, in_}), false, true, &t.params[1]);
    rec.copy(t.input.slice, t.scratch[0].slice);
    rec.copy(t.output.slice.sub(0, static_cast<uint64_t>(out_) * 4), t.state[1].slice);
  }
  void backward(Recorder& rec, const LayerTensors& t, const PassState&) const override {
    const Tensor& x = t.scratch[0];
    if (!t.grad_input.slice.empty()) ops::matmul(rec, t.grad_input, t.grad_output, reshaped(t.params[0], {out_, in_}), false, false);
    ops::matmul(rec, reshaped(t.grads[0], {out_, in_}), t.grad_output, x, true, false);
    ops::bias_backward(rec, t.grads[1], t.grad_output);
  }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<BufferedLinear>(*this); }

 private:
  int64_t in_, out_;
};

const NamedTensor& find(const std::vector<NamedTensor>& tensors, const std::string& name) {
  auto it = std::find_if(tensors.begin(), tensors.end(), [&](const NamedTensor& t) { return t.name == name; });
  if (it == tensors.end()) FAIL("no tensor " << name);
  return *it;
}

}  // namespace

TEST_CASE("a layer's declared parameters, state and scratch: max-norm by axis, state saved, never trained") {
  Context& ctx = test::context();
  auto train = synthetic(ctx, 320, 1);
  Model plain(ctx, Sequential{Linear(k_features, 32), ReLU(), Dropout(0.3), Linear(32, k_classes)}, {k_features}, config());
  Model buffered(ctx, Sequential{BufferedLinear(k_features, 32), ReLU(), Dropout(0.3), Linear(32, k_classes)},
                 {k_features}, config());
  for (int e = 0; e < 2; ++e) {
    plain.train_epoch(train);
    buffered.train_epoch(train);
  }
  const auto p = plain.state_dict(), b = buffered.state_dict();
  // PyTorch's order: a layer's parameters, then its state.
  std::vector<std::string> names;
  for (const NamedTensor& t : b) names.push_back(t.name);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "0.marker", "0.last_output", "3.weight", "3.bias"});
  CHECK(find(b, "0.weight").shape == Shape{32, k_features / 2, 2});
  CHECK(buffered.parameter_count() == plain.parameter_count());

  // The 3-D weight is capped per unit exactly as Linear's rows, and backward from scratch is backward from
  // the input: the two models are bit-identical.
  CHECK(find(b, "0.weight").values == find(p, "0.weight").values);
  CHECK(find(b, "3.weight").values == find(p, "3.weight").values);
  double largest = 0;
  for (int64_t unit = 0; unit < 32; ++unit) {
    double sq = 0;
    for (int64_t j = 0; j < k_features; ++j) sq += std::pow(find(b, "0.weight").values[unit * k_features + j], 2);
    largest = std::max(largest, std::sqrt(sq));
  }
  CHECK(largest <= 0.4 * (1 + 1e-6));
  CHECK(largest > 0.39);  // the cap bound, so it was applied

  // State: untouched by the optimizer, written by forward, saved and restored by checkpoints.
  CHECK(find(b, "0.marker").values == std::vector<float>(3, 42.0f));
  const std::vector<float> last = find(b, "0.last_output").values;
  CHECK(std::any_of(last.begin(), last.end(), [](float v) { return v != 0.0f; }));
  const auto path = test::temp_dir("vkdrop-test-buffers") / "buffers.safetensors";
  buffered.save(path);
  Model restored(ctx, Sequential{BufferedLinear(k_features, 32), ReLU(), Dropout(0.3), Linear(32, k_classes)},
                 {k_features}, config());
  restored.load(path);
  CHECK(find(restored.state_dict(), "0.last_output").values == last);
  CHECK(find(restored.state_dict(), "0.marker").values == std::vector<float>(3, 42.0f));
  const SafetensorsFile optim = read_safetensors(path.string() + ".optim");
  for (const NamedTensor& t : optim.tensors) CHECK_THAT(t.name, !Contains("marker") && !Contains("last_output"));
  CHECK(optim.find("momentum_buffer.0.weight") != nullptr);
  // A checkpoint without the state does not fit.
  Model other(ctx, Sequential{Linear(k_features, 32), ReLU(), Dropout(0.3), Linear(32, k_classes)}, {k_features}, config());
  other.save(path);
  CHECK_THROWS_WITH(restored.load(path), Contains("missing 0.marker (3,)") && Contains("missing 0.last_output"));
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + ".optim");
}

TEST_CASE("the capped weights lie first in the parameters: one update per capped matrix and one for all the rest") {
  // ParameterStore puts the matrices max-norm caps before the biases, so SGD updates all biases in one dispatch
  // (train/sgd.cpp) where it took one per range between capped matrices.
  Context& ctx = test::context();
  if (!ops::fused_max_norm_runs(ctx.info())) {
    WARN("this device has no fused update-and-cap kernel; the update is one pass, then the caps");
    return;
  }
  TrainConfig c = config();
  c.profile = true;
  Model model(ctx, Sequential{Linear(k_features, 32), ReLU(), Linear(32, 16), ReLU(), Linear(16, k_classes)},
              {k_features}, c);
  model.train_epoch(synthetic(ctx, 64, 5));
  const auto timings = model.step_timings();
  const auto count = [&](const std::string& prefix, bool exact) {
    return std::count_if(timings.begin(), timings.end(), [&](const DispatchTiming& t) {
      return exact ? t.label == prefix : t.label.rfind(prefix, 0) == 0;
    });
  };
  CHECK(count("sgd_step + max_norm", false) == 3);
  CHECK(count("sgd_step", true) == 1);
}

TEST_CASE("samples of any shape and a Flatten that is a view: the same training as flat vectors") {
  Context& ctx = test::context();
  const Shape image{2, 2, 4};  // (C, H, W): 16 values, as the flat model's 16 features
  auto train_flat = synthetic(ctx, 320, 3), test_flat = synthetic(ctx, 77, 4);
  auto train_image = synthetic(ctx, 320, 3, image), test_image = synthetic(ctx, 77, 4, image);
  TrainConfig c = config(0);
  c.profile = true;
  Model flat(ctx, Sequential{Linear(k_features, 24), ReLU(), Linear(24, k_classes)}, {k_features}, c);
  Model nd(ctx, Sequential{Flatten(), Linear(k_features, 24), ReLU(), Linear(24, k_classes)}, image, c);
  for (int e = 0; e < 2; ++e) {
    flat.train_epoch(train_flat);
    nd.train_epoch(train_image);
  }
  const auto a = flat.state_dict(), b = nd.state_dict();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].values == b[i].values);
  CHECK(b[0].name == "1.weight");  // Flatten is layer 0, as in PyTorch's nn.Sequential
  const Metrics ma = flat.evaluate(test_flat), mb = nd.evaluate(test_image);
  CHECK(ma.loss == mb.loss);
  CHECK(ma.error == mb.error);
  // A view costs nothing: the same dispatches per step.
  CHECK(flat.step_timings().size() == nd.step_timings().size());
  CHECK_THAT(nd.summary(), Contains("(0): Flatten(start_dim=1, end_dim=-1)  # -> torch.Size([16, 16])") &&
                               Contains("input torch.Size([16, 2, 2, 4])"));

  // predict takes samples of the model's shape, row-major.
  std::vector<float> x(static_cast<size_t>(3 * k_features));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7) / 7.0f;
  CHECK(flat.predict(x, 3) == nd.predict(x, 3));
}

TEST_CASE("Flatten and shapes a layer cannot take are errors at model build, naming the layer") {
  Context& ctx = test::context();
  CHECK(Flatten().output_shape({8, 2, 3, 4}) == Shape{8, 24});
  CHECK(Flatten(2).output_shape({8, 2, 3, 4}) == Shape{8, 2, 12});
  CHECK(Flatten(1, 2).output_shape({8, 2, 3, 4}) == Shape{8, 6, 4});
  CHECK(Flatten(-2).output_shape({8, 2, 3, 4}) == Shape{8, 2, 12});
  CHECK_THROWS_AS(Flatten(0).output_shape({8, 2}), ShapeError);  // the batch is not flattened away
  CHECK_THROWS_WITH(Model(ctx, Sequential{Linear(k_features, 8), Flatten(2), Linear(8, k_classes)}, {k_features}, config()),
                    Contains("layer 1 Flatten(start_dim=2, end_dim=-1)") && Contains("(16, 8)"));
  // Linear on (N, 2, 8) is legal (PyTorch applies it to the last dim), but the logits must be 2-D.
  CHECK_THROWS_WITH(Model(ctx, Sequential{Linear(8, k_classes)}, {2, 8}, config()), Contains("(16, 2, 4)"));
  CHECK_THROWS_WITH(Model(ctx, Sequential{Linear(7, k_classes)}, {2, 8}, config()),
                    Contains("Linear(in_features=7") && Contains("(16, 2, 8)") && Contains("Flatten"));
  // A data set whose samples do not have the model's shape.
  Model nd(ctx, Sequential{Flatten(), Linear(k_features, k_classes)}, {2, 2, 4}, config());
  CHECK_THROWS_WITH(nd.evaluate(synthetic(ctx, 20, 1)), Contains("(16,)") && Contains("(2, 2, 4)"));
}

TEST_CASE("a layer whose buffers exceed one binding is refused when the model is built") {
  Context& ctx = test::context();
  const uint64_t range = ctx.info().max_storage_buffer_range;
  const int64_t out = 64, in = static_cast<int64_t>(range / 4 / out) + 1;  // the weight is one float too large
  TrainConfig c = config();
  c.batch_size = 1;
  c.eval_batch_size = 1;
  CHECK_THROWS_WITH(Model(ctx, Sequential{Linear(in, out), Linear(out, k_classes)}, {in}, c),
                    Contains("layer 0 Linear(in_features=" + std::to_string(in)) &&
                        Contains(fmt::format("0.weight ({}, {})", out, in)));
}

TEST_CASE("recordings never outlive their data set: many short-lived data sets, no growth") {
  Context& ctx = test::context();
  auto keep = synthetic(ctx, 100, 9, {k_features}, "kept");
  Model model(ctx, Sequential{Linear(k_features, 8), ReLU(), Dropout(0.2), Linear(8, k_classes)}, {k_features}, config());
  uint64_t arena = 0;
  for (int i = 0; i < 12; ++i) {
    auto train = synthetic(ctx, 64 + 16 * i, 100 + static_cast<uint32_t>(i), {k_features}, fmt::format("train {}", i));
    auto test = synthetic(ctx, 30 + i, 200 + static_cast<uint32_t>(i), {k_features}, fmt::format("test {}", i));
    model.train_epoch(train);
    model.evaluate(test);
    model.evaluate(keep);
    if (i == 0) arena = model.arena_bytes();
    CHECK(model.arena_bytes() == arena);
    // This round's two and `keep`; the last round's were dropped when this round first recorded.
    CHECK(model.cached_datasets() == 3);
  }
  model.evaluate(keep);
  CHECK(model.cached_datasets() == 1);  // only `keep` is still alive
  CHECK(model.arena_bytes() == arena);
  const Metrics m = model.evaluate(keep);
  CHECK(m.samples == 100);
}

TEST_CASE("Monte Carlo dropout draws masks in an eval pass: BatchNorm keeps its running statistics") {
  Context& ctx = test::context();
  auto train = synthetic(ctx, 320, 1);
  for (double p : {0.0, 0.3}) {
    INFO("dropout p = " << p);
    Model model(ctx, Sequential{Linear(k_features, 8), BatchNorm1d(8), ReLU(), Dropout(p), Linear(8, k_classes)},
                {k_features}, config());
    model.train_epoch(train);
    const auto before = model.state_dict();
    std::vector<float> x(static_cast<size_t>(5 * k_features));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 11) / 11.0f;
    const std::vector<float> eval = model.predict(x, 5);
    const std::vector<float> mc = model.predict_mc(x, 5, 3);
    const auto after = model.state_dict();
    for (size_t i = 0; i < before.size(); ++i) CHECK(before[i].values == after[i].values);  // running stats too
    if (p == 0.0) {
      // No unit dropped: each pass is the eval pass, normalised with the running statistics.
      test::expect_close(mc, eval, 1e-6, 1e-5, "predict_mc with p = 0 against predict");
    } else {
      CHECK(mc != eval);
    }
  }
}

namespace {

// A layer that breaks the rule: its parameter's shape follows the batch.
class BatchSizedParameter : public Layer {
 public:
  std::string describe() const override { return "BatchSizedParameter()"; }
  Shape output_shape(const Shape& input) const override { return input; }
  std::vector<BufferSpec> buffers(const Shape& input) const override {
    return {BufferSpec::parameter("weight", {input[0]})};
  }
  void forward(Recorder& rec, const LayerTensors& t, const PassState&) const override {
    rec.copy(t.input.slice, t.output.slice);
  }
  void backward(Recorder&, const LayerTensors&, const PassState&) const override {}
  std::unique_ptr<Layer> clone() const override { return std::make_unique<BatchSizedParameter>(*this); }
};

}  // namespace

TEST_CASE("parameters or state that depend on the batch are refused when the model is built") {
  Context& ctx = test::context();
  CHECK_THROWS_WITH(Model(ctx, Sequential{BatchSizedParameter(), Linear(k_features, k_classes)}, {k_features}, config()),
                    Contains("layer 0 BatchSizedParameter()") && Contains("depend on the batch") &&
                        Contains("(16, 16) against (50, 16)"));
}

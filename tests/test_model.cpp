// The training engine: a Sequential compiled into one recorded step, replayed; determinism, checkpoints,
// resume, inference modes, and the errors a user can run into.
#include "gpu.hpp"
#include "temp_dir.hpp"

#include <vkdrop/datasets/device_dataset.hpp>
#include <vkdrop/datasets/mnist.hpp>
#include <vkdrop/layers/dropout.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/relu.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/train/model.hpp>

#include <filesystem>
#include <fstream>
#include <limits>

using namespace vkdrop;
namespace fs = std::filesystem;

namespace {

constexpr int64_t k_features = 16, k_classes = 4;

// A learnable synthetic problem: the class is the position of the largest of the first four bytes.
struct HostData {
  std::vector<uint8_t> images;  // (count, k_features)
  std::vector<uint8_t> labels;  // (count)
};

HostData synthetic_host(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  HostData d{std::vector<uint8_t>(static_cast<size_t>(count * k_features)), std::vector<uint8_t>(static_cast<size_t>(count))};
  for (int64_t i = 0; i < count; ++i) {
    uint8_t* row = &d.images[static_cast<size_t>(i * k_features)];
    for (int64_t f = 0; f < k_features; ++f) row[f] = static_cast<uint8_t>(rng() % 256);
    d.labels[static_cast<size_t>(i)] = static_cast<uint8_t>(std::max_element(row, row + k_classes) - row);
  }
  return d;
}

DeviceDataset synthetic(Context& ctx, int64_t count, uint32_t seed, const std::string& name) {
  const HostData d = synthetic_host(count, seed);
  return DeviceDataset(ctx, d.images, {k_features}, d.labels, name);
}

Sequential small_net(double p = 0.2) {
  return Sequential{Linear(k_features, 32), ReLU(), Dropout(p), Linear(32, k_classes)};
}

TrainConfig small_config(uint64_t seed = 3) {
  TrainConfig c;
  c.batch_size = 16;
  c.eval_batch_size = 50;
  c.seed = seed;
  c.schedule.lr = 0.1;
  c.schedule.momentum = 0.9;
  c.max_norm = 3.0;
  return c;
}

fs::path temp_path(const std::string& name) {
  return test::temp_dir("vkdrop-test-model") / name;
}

void expect_same_weights(Model& a, Model& b) {
  const auto sa = a.state_dict(), sb = b.state_dict();
  REQUIRE(sa.size() == sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    INFO(sa[i].name);
    CHECK(sa[i].values == sb[i].values);  // bit-identical, not merely close
  }
}

}  // namespace

TEST_CASE("training lowers the loss and learns a synthetic problem") {
  Context& ctx = test::context();
  auto train = synthetic(ctx, 1000, 1, "synthetic train");
  auto test = synthetic(ctx, 333, 2, "synthetic test");  // 333: the last eval batch is padded
  Model model(ctx, small_net(), {k_features}, small_config());
  const Metrics before = model.evaluate(test);
  CHECK(before.samples == 333);
  Metrics first{}, last{};
  std::vector<Progress> reports;  // the host reads one chunk's totals while the next chunk runs
  for (int e = 0; e < 8; ++e) {
    last = model.train_epoch(train, [&](const Progress& p) {
      if (e == 0) reports.push_back(p);
    });
    if (e == 0) first = last;
  }
  REQUIRE_FALSE(reports.empty());
  CHECK(reports.back().step_in_epoch == 1000 / 16);
  for (size_t i = 0; i < reports.size(); ++i) {
    INFO("report " << i << " at step " << reports[i].step_in_epoch);
    CHECK(reports[i].running.samples == reports[i].step_in_epoch * 16);  // each slot holds its own chunk's totals
    if (i > 0) CHECK(reports[i].step_in_epoch > reports[i - 1].step_in_epoch);
  }
  CHECK(reports.back().running.loss == first.loss);
  CHECK(model.step() == 8 * (1000 / 16));  // the partial batch is dropped
  CHECK(model.epoch() == 8);
  CHECK(last.samples == 1000 / 16 * 16);
  CHECK(last.loss < first.loss);
  const Metrics after = model.evaluate(test);
  CHECK(after.error < 0.25);  // chance is 0.75
  CHECK(after.loss < before.loss);
}

TEST_CASE("evaluation counts each sample once, padded batch or not") {
  Context& ctx = test::context();
  auto data = synthetic(ctx, 333, 5, "padded");
  Model model(ctx, small_net(), {k_features}, small_config());
  model.train_epoch(synthetic(ctx, 320, 6, "train"));
  const Metrics m = model.evaluate(data);

  // The same error computed from predict(): argmax per row on the host.
  const HostData host = synthetic_host(333, 5);
  std::vector<float> inputs(host.images.size());
  for (size_t i = 0; i < inputs.size(); ++i) inputs[i] = host.images[i] * (1.0f / 255.0f);  // as the gather does
  const auto probs = model.predict(inputs, 333);
  int wrong = 0;
  for (int64_t i = 0; i < 333; ++i) {
    const float* p = &probs[static_cast<size_t>(i * k_classes)];
    float sum = 0;
    for (int c = 0; c < k_classes; ++c) sum += p[c];
    CHECK(sum == Approx(1.0f).epsilon(1e-5));
    if (std::max_element(p, p + k_classes) - p != host.labels[static_cast<size_t>(i)]) ++wrong;
  }
  CHECK(m.error == Approx(wrong / 333.0).margin(1e-9));
}

TEST_CASE("the same seed on the same device gives bit-identical weights; another seed does not") {
  Context& ctx = test::context();
  auto train = synthetic(ctx, 400, 1, "train");
  Model a(ctx, small_net(0.5), {k_features}, small_config(11));
  Model b(ctx, small_net(0.5), {k_features}, small_config(11));
  Model c(ctx, small_net(0.5), {k_features}, small_config(12));
  for (int e = 0; e < 2; ++e) {
    a.train_epoch(train);
    b.train_epoch(train);
    c.train_epoch(train);
  }
  expect_same_weights(a, b);
  CHECK(a.state_dict()[0].values != c.state_dict()[0].values);
}

TEST_CASE("resuming from a checkpoint gives the weights of an uninterrupted run") {
  Context& ctx = test::context();
  auto train = synthetic(ctx, 400, 1, "train");
  for (bool adam : {false, true}) {
    INFO((adam ? "Adam" : "SGD with momentum"));
    TrainConfig config = small_config(21);
    if (adam) {
      config.optimizer = Adam{};
      config.schedule.lr = 0.01;
    }
    Model uninterrupted(ctx, small_net(0.5), {k_features}, config);
    for (int e = 0; e < 3; ++e) uninterrupted.train_epoch(train);

    const fs::path path = temp_path(adam ? "resume-adam.safetensors" : "resume-sgd.safetensors");
    {
      Model first(ctx, small_net(0.5), {k_features}, config);
      first.train_epoch(train);
      first.save(path);
    }
    Model resumed(ctx, small_net(0.5), {k_features}, config);
    resumed.load(path);
    CHECK(resumed.epoch() == 1);
    CHECK(resumed.step() == 400 / 16);
    resumed.train_epoch(train);
    resumed.train_epoch(train);
    expect_same_weights(uninterrupted, resumed);
  }
}

TEST_CASE("checkpoints name tensors as PyTorch's state_dict and refuse another architecture") {
  Context& ctx = test::context();
  Model model(ctx, small_net(), {k_features}, small_config());
  const auto state = model.state_dict();
  REQUIRE(state.size() == 4);
  CHECK(state[0].name == "0.weight");
  CHECK(state[0].shape == Shape{32, k_features});
  CHECK(state[1].name == "0.bias");
  CHECK(state[2].name == "3.weight");
  CHECK(state[3].name == "3.bias");

  const fs::path path = temp_path("arch.safetensors");
  model.save(path);
  CHECK(fs::exists(path));
  CHECK(fs::exists(fs::path(path.string() + ".optim")));
  CHECK(read_safetensors(path).metadata.at("format") == "vkdrop");

  Sequential other{Linear(k_features, 64), ReLU(), Linear(64, k_classes)};
  Model wrong(ctx, other, {k_features}, small_config());
  CHECK_THROWS_AS(wrong.load(path), DataError);
  CHECK_THROWS_WITH(wrong.load(path), Catch::Matchers::Contains("0.weight: the model has (64, 16), the checkpoint (32, 16)") &&
                                          Catch::Matchers::Contains("missing 2.weight") &&
                                          Catch::Matchers::Contains("unexpected 3.weight"));

  Model other_seed(ctx, small_net(), {k_features}, small_config(99));
  const auto before = other_seed.state_dict();
  CHECK_THROWS_WITH(other_seed.load(path), Catch::Matchers::Contains("seed"));
  CHECK(other_seed.state_dict()[0].values == before[0].values);  // a refused load changes nothing
  CHECK_NOTHROW(other_seed.load(path, /*with_optimizer=*/false));  // weights alone: fine
  expect_same_weights(model, other_seed);

  fs::remove(fs::path(path.string() + ".optim"));
  CHECK_THROWS_WITH(model.load(path), Catch::Matchers::Contains(".optim: missing"));
}

TEST_CASE("a save interrupted at any point leaves a checkpoint that resumes") {
  Context& ctx = test::context();
  auto train = synthetic(ctx, 160, 1, "train");
  const fs::path path = temp_path("crash.safetensors");
  const fs::path optim = path.string() + ".optim", old_optim = path.string() + ".optim.old";
  Model model(ctx, small_net(), {k_features}, small_config());
  model.train_epoch(train);
  model.save(path);  // checkpoint A
  const fs::path a_weights = temp_path("a.safetensors"), a_optim = temp_path("a.safetensors.optim");
  fs::copy_file(path, a_weights, fs::copy_options::overwrite_existing);
  fs::copy_file(optim, a_optim, fs::copy_options::overwrite_existing);
  Model at_a(ctx, small_net(), {k_features}, small_config());
  at_a.load(path);
  model.train_epoch(train);
  model.save(path);  // checkpoint B, complete
  CHECK_FALSE(fs::exists(old_optim));

  // The states a crash between the steps of a save can leave: A's weights with A's optimizer state moved
  // aside, with or without B's optimizer state already in place. Both resume A.
  for (bool b_optim_written : {false, true}) {
    INFO("B's optimizer file written: " << b_optim_written);
    fs::copy_file(a_weights, path, fs::copy_options::overwrite_existing);
    fs::copy_file(a_optim, old_optim, fs::copy_options::overwrite_existing);
    if (!b_optim_written) fs::remove(optim);
    Model resumed(ctx, small_net(), {k_features}, small_config());
    resumed.load(path);
    CHECK(resumed.step() == at_a.step());
    expect_same_weights(resumed, at_a);
    if (!b_optim_written) model.save(path);  // restore B's files for the next round
  }
}

namespace {

// What the crash hook throws: the save stops where a kill -9 would have stopped it, its files left as they are.
struct Killed {};

// While alive, every save stops just before its rename into `target`, as a kill -9 at that moment would stop it.
class KillBeforeRenameInto {
 public:
  explicit KillBeforeRenameInto(const fs::path& target) {
    before_rename_for_tests = [target](const fs::path& to) {
      if (to == target) throw Killed{};
    };
  }
  ~KillBeforeRenameInto() { before_rename_for_tests = nullptr; }
  KillBeforeRenameInto(const KillBeforeRenameInto&) = delete;
  KillBeforeRenameInto& operator=(const KillBeforeRenameInto&) = delete;
};

// A process id no process can have: Linux hands out ids below /proc/sys/kernel/pid_max.
int64_t dead_pid() {
  int64_t pid_max = 4194304;  // the largest pid_max Linux allows
  std::ifstream("/proc/sys/kernel/pid_max") >> pid_max;
  return pid_max;
}

}  // namespace

TEST_CASE("two saves in a row killed at any points leave a checkpoint that resumes; the next save removes their temporaries") {
  Context& ctx = test::context();
  auto train = synthetic(ctx, 160, 1, "train");
  const fs::path dir = temp_path("double-crash");
  const fs::path path = dir / "model.safetensors";
  const fs::path optim = path.string() + ".optim", old_optim = path.string() + ".optim.old";
  // The three renames of a save: moving PATH.optim aside, then PATH.optim and PATH each once its temporary
  // file is complete (a kill while writing either file leaves the same files as a kill here).
  const std::vector<std::pair<std::string, fs::path>> kill_points = {
      {"moving PATH.optim aside", old_optim}, {"writing PATH.optim", optim}, {"writing PATH", path}};
  const auto temporaries = [&] {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path().filename().string().find(".tmp-") != std::string::npos) names.push_back(entry.path().filename());
    return names;
  };
  for (const auto& [first_name, first_kill] : kill_points) {
    for (const auto& [second_name, second_kill] : kill_points) {
      INFO("killed while " << first_name << ", resumed, killed again while " << second_name);
      fs::remove_all(dir);
      fs::create_directories(dir);
      Model model(ctx, small_net(), {k_features}, small_config());
      model.train_epoch(train);
      model.save(path);  // checkpoint A, complete
      const auto a = model.state_dict();
      const uint64_t a_step = model.step();

      model.train_epoch(train);
      {
        KillBeforeRenameInto kill(first_kill);
        CHECK_THROWS_AS(model.save(path), Killed);
      }
      Model resumed(ctx, small_net(), {k_features}, small_config());
      resumed.load(path);
      REQUIRE(resumed.step() == a_step);
      CHECK(resumed.state_dict()[0].values == a[0].values);
      resumed.train_epoch(train);  // the same epoch as the killed save's, from A's weights and optimizer state
      const auto after_a = resumed.state_dict();
      bool killed_again = false;  // a kill point this save does not pass (PATH.optim stays put) lets it finish
      {
        KillBeforeRenameInto kill(second_kill);
        try {
          resumed.save(path);
        } catch (const Killed&) {
          killed_again = true;
        }
      }
      CHECK((killed_again || second_kill == old_optim));

      Model again(ctx, small_net(), {k_features}, small_config());
      again.load(path);  // A's weights, step and optimizer state; or the finished save's
      REQUIRE(again.step() == (killed_again ? a_step : resumed.step()));
      if (killed_again) again.train_epoch(train);
      const auto after_again = again.state_dict();
      REQUIRE(after_again.size() == after_a.size());
      for (size_t i = 0; i < after_a.size(); ++i) {
        INFO(after_a[i].name);
        CHECK(after_again[i].values == after_a[i].values);  // bit-identical
      }

      if (killed_again && (first_kill != old_optim || second_kill != old_optim))
        CHECK_FALSE(temporaries().empty());  // a kill inside a write leaves its temporary behind
      // Temporaries of another process: one that cannot be running (no PID reaches pid_max), and init's.
      const std::string dead = std::to_string(dead_pid()), live = ".tmp-1";
      std::ofstream(path.string() + ".tmp-" + dead) << "killed";
      std::ofstream(optim.string() + ".tmp-" + dead) << "killed";
      std::ofstream(path.string() + live) << "still writing";
      again.save(path);
      CHECK(temporaries() == std::vector<std::string>{path.filename().string() + live});
      fs::remove(path.string() + live);
      CHECK_FALSE(fs::exists(old_optim));
      Model last(ctx, small_net(), {k_features}, small_config());
      last.load(path);
      expect_same_weights(last, again);
    }
  }
}

TEST_CASE("weights that are no longer finite are never saved over a good checkpoint") {
  Context& ctx = test::context();
  TrainConfig config = small_config();
  config.schedule.lr = 1e30;
  config.max_norm = 0;
  Model model(ctx, small_net(0.0), {k_features}, config);
  const fs::path path = temp_path("good.safetensors");
  model.save(path);
  const auto good = read_safetensors(path).metadata.at("checkpoint_id");
  // One step: its loss is finite, its update overflows the logits. Training did not see it; evaluation does.
  auto one_batch = synthetic(ctx, 16, 1, "one batch");
  model.train_epoch(one_batch);
  CHECK_THROWS_WITH(model.evaluate(one_batch), Catch::Matchers::Contains("NaN or inf"));
  // The next step sees it, and its update leaves the weights NaN: they are not saved.
  CHECK_THROWS_AS(model.train_epoch(one_batch), NumericalError);
  CHECK_THROWS_WITH(model.save(path), Catch::Matchers::Contains("NaN or inf") && Catch::Matchers::Contains("untouched"));
  CHECK(read_safetensors(path).metadata.at("checkpoint_id") == good);
}

TEST_CASE("a checkpoint holding NaN or inf is refused on load, naming the file and the tensor") {
  Context& ctx = test::context();
  Model model(ctx, small_net(), {k_features}, small_config());
  const fs::path path = temp_path("not-finite.safetensors"), optim = path.string() + ".optim";
  model.save(path);
  const auto before = model.state_dict();

  SafetensorsFile weights = read_safetensors(path);
  REQUIRE(weights.tensors[1].values.size() == 32);
  weights.tensors[1].values[5] = std::numeric_limits<float>::quiet_NaN();
  write_safetensors(path, weights);
  const std::string nan_weight = path.string() + ": tensor " + weights.tensors[1].name + " holds nan at element 5 of 32";
  CHECK_THROWS_AS(model.load(path), DataError);
  CHECK_THROWS_WITH(model.load(path), Catch::Matchers::Contains(nan_weight));
  CHECK_THROWS_WITH(model.load(path, /*with_optimizer=*/false), Catch::Matchers::Contains(nan_weight));
  CHECK(model.state_dict()[1].values == before[1].values);  // a refused load changes nothing

  model.save(path);
  SafetensorsFile state = read_safetensors(optim);
  REQUIRE_FALSE(state.tensors.empty());
  state.tensors[0].values[0] = std::numeric_limits<float>::infinity();
  write_safetensors(optim, state);
  CHECK_THROWS_WITH(model.load(path), Catch::Matchers::Contains(optim.string() + ": tensor " + state.tensors[0].name +
                                                                " holds inf at element 0"));
  CHECK_NOTHROW(model.load(path, /*with_optimizer=*/false));  // the weights alone are fine
}

TEST_CASE("predict: eval is deterministic, train mode draws new dropout masks (Monte Carlo dropout)") {
  Context& ctx = test::context();
  Model model(ctx, small_net(0.5), {k_features}, small_config());
  const auto inputs = test::random_floats(7 * k_features, 9, 0.0f, 1.0f);
  CHECK_FALSE(model.is_training());
  const auto e1 = model.predict(inputs, 7), e2 = model.predict(inputs, 7);
  CHECK(e1 == e2);
  model.train();
  const auto t1 = model.predict(inputs, 7), t2 = model.predict(inputs, 7);
  CHECK(t1 != t2);
  CHECK(t1 != e1);
  model.eval();
  CHECK(model.predict(inputs, 7) == e1);
  CHECK_THROWS_AS(model.predict(inputs, 8), ShapeError);
}

TEST_CASE("predict_mc: T stochastic passes in one submission average what T train-mode predicts draw") {
  Context& ctx = test::context();
  constexpr int passes = 5;
  const auto inputs = test::random_floats(7 * k_features, 9, 0.0f, 1.0f);
  Model one_call(ctx, small_net(0.5), {k_features}, small_config());
  const auto mean = one_call.predict_mc(inputs, 7, passes);

  Model many_calls(ctx, small_net(0.5), {k_features}, small_config());
  many_calls.train();
  std::vector<float> sum(mean.size(), 0.0f);
  std::vector<std::vector<float>> draws;
  for (int t = 0; t < passes; ++t) {
    draws.push_back(many_calls.predict(inputs, 7));
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += draws.back()[i];
  }
  for (float& v : sum) v *= 1.0f / passes;
  CHECK(mean == sum);  // same masks, same order of additions: bit for bit
  CHECK(draws[0] != draws[1]);
  for (int64_t r = 0; r < 7; ++r) {
    double row = 0;
    for (int64_t c = 0; c < k_classes; ++c) row += mean[static_cast<size_t>(r * k_classes + c)];
    CHECK(row == Approx(1.0).epsilon(1e-5));
  }

  // Dropout on whatever the mode; without dropout layers the mean is the deterministic prediction.
  CHECK_FALSE(one_call.is_training());
  CHECK(one_call.predict_mc(inputs, 7, 1) != one_call.predict(inputs, 7));
  Model plain(ctx, small_net(0.0), {k_features}, small_config());
  test::expect_close(plain.predict_mc(inputs, 7, 3), plain.predict(inputs, 7), 1e-6, 1e-6, "predict_mc without dropout");

  // More samples than one evaluation batch (50): every batch gets its passes.
  const auto many = test::random_floats(120 * k_features, 10, 0.0f, 1.0f);
  const auto big = one_call.predict_mc(many, 120, 4);
  REQUIRE(big.size() == 120 * k_classes);
  for (float p : big) CHECK((p >= 0.0f && p <= 1.0f));

  CHECK_THROWS_AS(one_call.predict_mc(inputs, 7, 0), ArgumentError);
  CHECK_THROWS_AS(one_call.predict_mc(inputs, 8, 2), ShapeError);
}

TEST_CASE("predict_mc reports its progress between submissions, and gives the same bits as without") {
  Context& ctx = test::context();
  constexpr int64_t n = 120;  // three batches of up to eval_batch_size = 50
  constexpr int passes = 40;
  const auto inputs = test::random_floats(n * k_features, 4, 0.0f, 1.0f);
  Model quiet(ctx, small_net(0.5), {k_features}, small_config());
  const auto want = quiet.predict_mc(inputs, n, passes);

  Model reporting(ctx, small_net(0.5), {k_features}, small_config());
  std::vector<PredictProgress> reports;
  const auto got = reporting.predict_mc(inputs, n, passes, [&](const PredictProgress& p) { reports.push_back(p); });
  CHECK(got == want);  // split into several submissions: the same draws, summed in the same order
  REQUIRE(reports.size() >= 6);  // per batch, one timed pass, then the rest
  CHECK(reports.front().done == 50);
  CHECK(reports.back().done == n * passes);
  for (size_t i = 0; i < reports.size(); ++i) {
    INFO("report " << i);
    CHECK(reports[i].total == n * passes);
    if (i > 0) CHECK(reports[i].done > reports[i - 1].done);
    if (i > 0) CHECK(reports[i].seconds >= reports[i - 1].seconds);
  }
}

TEST_CASE("bad configurations and data are clear errors") {
  Context& ctx = test::context();
  TrainConfig config = small_config();
  config.batch_size = 0;
  CHECK_THROWS_WITH(Model(ctx, small_net(), {k_features}, config), Catch::Matchers::Contains("batch size must be positive"));
  CHECK_THROWS_AS(Model(ctx, Sequential{Linear(k_features, 8), Linear(9, 2)}, {k_features}, small_config()), ShapeError);

  Model model(ctx, small_net(), {k_features}, small_config());
  auto tiny = synthetic(ctx, 5, 1, "tiny");
  CHECK_THROWS_WITH(model.train_epoch(tiny), Catch::Matchers::Contains("fewer than one batch"));
  std::vector<uint8_t> images(64 * 8, 1), labels(64, 0);
  DeviceDataset wrong_shape(ctx, images, {8}, labels, "eight features");
  CHECK_THROWS_AS(model.train_epoch(wrong_shape), ShapeError);

  std::vector<uint8_t> bad_labels(64, 7);  // 7 >= 4 classes
  std::vector<uint8_t> ok_images(64 * k_features, 1);
  DeviceDataset mislabelled(ctx, ok_images, {k_features}, bad_labels, "mislabelled");
  CHECK_THROWS_WITH(model.train_epoch(mislabelled), Catch::Matchers::Contains("label outside [0, 4)"));
  CHECK_THROWS_WITH(model.evaluate(mislabelled), Catch::Matchers::Contains("label outside [0, 4)"));
  // The error belongs to that data set: clean data afterwards trains and evaluates as before.
  auto clean = synthetic(ctx, 64, 3, "clean");
  CHECK_NOTHROW(model.train_epoch(clean));
  CHECK_NOTHROW(model.evaluate(clean));
  // Alternating data sets reuses what was made for each: the arena does not grow.
  const uint64_t arena = model.arena_bytes();
  for (int i = 0; i < 3; ++i) {
    model.evaluate(clean);
    model.evaluate(tiny);
  }
  CHECK(model.arena_bytes() == arena);

  // Hyperparameters are checked when the model is built, not at its first step.
  TrainConfig no_lr = small_config();
  no_lr.schedule.lr = 0;
  CHECK_THROWS_WITH(Model(ctx, small_net(), {k_features}, no_lr), Catch::Matchers::Contains("learning rate"));
  TrainConfig bad_sgd = small_config();
  bad_sgd.optimizer = SGD{-1.0};
  CHECK_THROWS_WITH(Model(ctx, small_net(), {k_features}, bad_sgd), Catch::Matchers::Contains("weight decay"));
  TrainConfig bad_adam = small_config();
  bad_adam.optimizer = Adam{1.0};
  CHECK_THROWS_WITH(Model(ctx, small_net(), {k_features}, bad_adam), Catch::Matchers::Contains("beta1"));

  auto values = model.state_dict();
  values[0].values.pop_back();  // one value short of its shape
  CHECK_THROWS_WITH(model.load_state_dict(values), Catch::Matchers::Contains("0.weight: shape (32, 16) but 511 values"));
}

TEST_CASE("a diverging run stops with the step named") {
  Context& ctx = test::context();
  TrainConfig config = small_config();
  config.schedule.lr = 1e30;  // certain to overflow
  config.max_norm = 0;
  Model model(ctx, small_net(0.0), {k_features}, config);
  auto train = synthetic(ctx, 400, 1, "train");
  REQUIRE_THROWS_AS(model.train_epoch(train), NumericalError);
  Model again(ctx, small_net(0.0), {k_features}, config);
  // Step 0's loss is finite (it is computed before the first update); the update overflows; step 1's loss
  // is not. The report names the first bad step even though later chunks ran on.
  CHECK_THROWS_WITH(again.train_epoch(train), Catch::Matchers::Contains("NaN or inf at step 1 (epoch 1)"));
}

TEST_CASE("integration: a dropout MLP learns real MNIST from 6000 images") {
  // Raw or gzip, as the loader finds it; the loader's error names the directory and the missing file.
  Mnist mnist;
  try {
    mnist = load_mnist(default_data_dir());
  } catch (const DataError& e) {
    FAIL(e.what() << " (./vkdrop.sh test fetches MNIST)");
  }
  mnist.train.count = 6000;
  mnist.train.images.resize(6000 * 784);
  mnist.train.labels.resize(6000);
  Context& ctx = test::context();
  auto train = DeviceDataset::mnist(ctx, mnist.train, "MNIST train subset");
  auto test = DeviceDataset::mnist(ctx, mnist.test, "MNIST test");
  TrainConfig config;
  config.batch_size = 32;
  config.seed = 1;
  config.schedule.lr = 0.05;
  config.schedule.momentum = 0.9;
  Model model(ctx, Sequential{Dropout(0.2), Linear(784, 256), ReLU(), Dropout(0.5), Linear(256, 10)}, {784}, config);
  // One epoch of 6000 reaches ~10-11% here and in PyTorch alike; three give a margin below 10%.
  for (int epoch = 0; epoch < 3; ++epoch) model.train_epoch(train);
  const Metrics m = model.evaluate(test);
  INFO("test error " << 100 * m.error << "%");
  CHECK(m.error < 0.10);
  CHECK(m.samples == 10000);
}

// mnist_mlp: the dropout MLP of Srivastava et al. 2014 on MNIST, trained with vkdrop, and (--model cnn) a
// convolutional net with BatchNorm and per-channel dropout (Dropout2d, Tompson et al. 2015).
//
//   ./vkdrop.sh train                                   # the default: 5 to 10 minutes on lavapipe
//   ./vkdrop.sh train --hidden 1024,1024,1024 --lr 0.1 --schedule cosine --epochs 50   # the paper's net
//   ./vkdrop.sh train --model cnn                       # Conv-BN-ReLU-Dropout2d-MaxPool x2, then a dropout MLP
//
// The defaults (784-1024-1024-10, dropout 0.2/0.5, SGD lr 0.05 x 0.9 per epoch, momentum 0.5 -> 0.9 over two
// epochs, max-norm 3.5, 12 epochs) reach 1.65 % test error in 5 to 10 minutes on lavapipe (2 cores); the
// paper's 784-1024-1024-1024-10 net with the second line reaches 1.24 % in 50 epochs (40 minutes there).
// Run with --help for every flag.

#include <vkdrop/datasets/device_dataset.hpp>
#include <vkdrop/datasets/mnist.hpp>
#include <vkdrop/layers/batch_norm2d.hpp>
#include <vkdrop/layers/conv2d.hpp>
#include <vkdrop/layers/dropout.hpp>
#include <vkdrop/layers/flatten.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/max_pool2d.hpp>
#include <vkdrop/layers/relu.hpp>
#include <vkdrop/layers/sequential.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/train/model.hpp>
#include <vkdrop/train/safetensors.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <unistd.h>

namespace {

struct Options {
  std::string model = "mlp";
  std::vector<int64_t> channels{32, 64};  // cnn: output channels of the two conv blocks
  std::string conv_dropout = "channel";    // cnn: after each conv block: channel (Dropout2d), element or none
  double conv_dropout_p = 0.1;
  std::vector<int64_t> hidden{1024, 1024};
  double input_dropout = 0.2;
  double dropout = 0.5;
  std::string scaling = "inverted";
  std::string optimizer = "sgd";
  double lr = 0.05;
  std::string schedule = "exponential";
  double gamma = 0.9;
  uint32_t step_epochs = 10;
  double lr_min = 0;
  double momentum = 0.9;
  double momentum_start = 0.5;
  double momentum_ramp_epochs = 2;
  bool nesterov = false;
  double weight_decay = 0;
  double max_norm = 3.5;
  int64_t batch = 128;
  int64_t eval_batch = 1000;
  int epochs = 12;
  int64_t train_subset = 0;
  uint64_t seed = 1;
  std::string init = "pytorch";
  std::string device;
  std::string data_dir;
  std::string save;
  std::string resume;
  std::string metrics;
  bool profile = false;
  int mc_passes = 0;
};

bool is_cnn(const Options& o) { return o.model == "cnn"; }

// Conv(1->c1, 3x3, pad 1)-BatchNorm-ReLU-<conv dropout>-MaxPool2 -> Conv(c1->c2, ...)-...-MaxPool2 -> Flatten,
// then the dense part (--hidden, default for cnn: 256, with --dropout) and the classifier.
void add_conv_blocks(vkdrop::Sequential& net, const Options& o, vkdrop::DropoutScaling scaling) {
  int64_t in = 1;
  for (int64_t c : o.channels) {
    net.add(vkdrop::Conv2d(in, c, 3, 1, 1));
    net.add(vkdrop::BatchNorm2d(c));
    net.add(vkdrop::ReLU());
    if (o.conv_dropout == "channel" && o.conv_dropout_p > 0) net.add(vkdrop::Dropout2d(o.conv_dropout_p, scaling));
    if (o.conv_dropout == "element" && o.conv_dropout_p > 0) net.add(vkdrop::Dropout(o.conv_dropout_p, scaling));
    net.add(vkdrop::MaxPool2d(2));
    in = c;
  }
  net.add(vkdrop::Flatten());
}

vkdrop::Shape sample_shape(const Options& o) { return is_cnn(o) ? vkdrop::Shape{1, 28, 28} : vkdrop::Shape{784}; }

vkdrop::Sequential build_net(const Options& o) {
  const auto scaling = o.scaling == "vanilla" ? vkdrop::DropoutScaling::Vanilla : vkdrop::DropoutScaling::Inverted;
  vkdrop::Sequential net;
  if (o.input_dropout > 0) net.add(vkdrop::Dropout(o.input_dropout, scaling));
  int64_t in = 784;
  if (is_cnn(o)) {
    add_conv_blocks(net, o, scaling);
    in = net.shapes(vkdrop::with_batch(1, sample_shape(o))).back()[1];  // the Flatten's width
  }
  for (int64_t h : o.hidden) {
    net.add(vkdrop::Linear(in, h));
    net.add(vkdrop::ReLU());
    if (o.dropout > 0) net.add(vkdrop::Dropout(o.dropout, scaling));
    in = h;
  }
  net.add(vkdrop::Linear(in, 10));
  return net;
}

vkdrop::TrainConfig train_config(const Options& o) {
  vkdrop::TrainConfig c;
  c.batch_size = o.batch;
  c.eval_batch_size = o.eval_batch;
  c.seed = o.seed;
  c.max_norm = o.max_norm;
  c.init = o.init == "xavier" ? vkdrop::Init::XavierUniform : vkdrop::Init::PyTorchDefault;
  c.profile = o.profile;
  if (o.optimizer == "sgd") {
    c.optimizer = vkdrop::SGD{o.weight_decay, o.nesterov};
  } else {
    c.optimizer = vkdrop::Adam{0.9, 0.999, 1e-8, o.weight_decay, o.optimizer == "adamw"};
  }
  const std::map<std::string, vkdrop::LrDecay> decays{{"constant", vkdrop::LrDecay::Constant},
                                                      {"step", vkdrop::LrDecay::Step},
                                                      {"exponential", vkdrop::LrDecay::Exponential},
                                                      {"cosine", vkdrop::LrDecay::Cosine}};
  c.schedule.decay = decays.at(o.schedule);
  c.schedule.lr = o.lr;
  c.schedule.gamma = o.gamma;
  c.schedule.step_epochs = o.step_epochs;
  c.schedule.total_epochs = static_cast<uint32_t>(o.epochs);
  c.schedule.lr_min = o.lr_min;
  c.schedule.momentum = o.optimizer == "sgd" ? o.momentum : 0.0;
  c.schedule.momentum_start = o.momentum_start;
  c.schedule.ramp_epochs = o.optimizer == "sgd" ? o.momentum_ramp_epochs : 0.0;
  return c;
}

// One line that rewrites itself on a terminal; nothing between epochs otherwise.
class ProgressLine {
 public:
  explicit ProgressLine(bool tty) : tty_(tty) {}
  void update(int epoch, int epochs, const vkdrop::Progress& p, int64_t batch) {
    if (!tty_) return;
    const double rate = static_cast<double>(p.step_in_epoch * batch) / std::max(p.seconds, 1e-9);
    const double eta = p.seconds / static_cast<double>(p.step_in_epoch) *
                       static_cast<double>(p.steps_per_epoch - p.step_in_epoch);
    std::fprintf(stdout, "\r\x1b[2Kepoch %d/%d  step %lld/%lld  loss %.4f  train error %.2f%%  %.0f samples/s  ETA %.0fs",
                 epoch, epochs, static_cast<long long>(p.step_in_epoch), static_cast<long long>(p.steps_per_epoch),
                 p.running.loss, 100 * p.running.error, rate, eta);
    std::fflush(stdout);
  }
  // Monte Carlo dropout: the same rewriting line on a terminal; otherwise, for a run expected to take more than
  // half a minute, a line at each tenth.
  void update_mc(const vkdrop::PredictProgress& p, int passes, int64_t images) {
    const double fraction = static_cast<double>(p.done) / static_cast<double>(p.total);
    const double eta = p.seconds / fraction - p.seconds;
    if (tty_) {
      std::fprintf(stdout, "\r\x1b[2KMonte Carlo dropout: %.0f%% of %d passes over %lld images  ETA %.0fs", 100 * fraction,
                   passes, static_cast<long long>(images), eta);
    } else if (const int tenth = static_cast<int>(fraction * 10); tenth > tenths_shown_ && tenth < 10 && p.seconds + eta > 30) {
      tenths_shown_ = tenth;
      std::fprintf(stdout, "Monte Carlo dropout: %d%% of %d passes over %lld images after %.0fs, ETA %.0fs\n", 10 * tenth,
                   passes, static_cast<long long>(images), p.seconds, eta);
    }
    std::fflush(stdout);
  }
  void clear() {
    if (tty_) std::fprintf(stdout, "\r\x1b[2K");
  }

 private:
  bool tty_;
  int tenths_shown_ = 0;
};

// CLI11's PositiveNumber prints the whole range of double on failure, and its Range lets NaN through (every
// comparison with NaN is false); these refuse anything but a finite number in range, and say what is wrong.
CLI::Validator number_in(double lo, bool lo_inclusive, double hi) {
  return CLI::Validator(
      [lo, lo_inclusive, hi](std::string& text) -> std::string {
        double v = 0;
        try {
          v = std::stod(text);
        } catch (const std::exception&) {
          return "not a number: " + text;
        }
        if (!std::isfinite(v)) return "not a finite number: " + text;
        if (!(lo_inclusive ? v >= lo : v > lo)) {
          return fmt::format("must be {} {}, got {}", lo_inclusive ? "at least" : "greater than", lo, text);
        }
        if (v > hi) return fmt::format("must be at most {}, got {}", hi, text);
        return "";
      },
      std::isinf(hi) ? fmt::format("{} {}", lo_inclusive ? ">=" : ">", lo) : fmt::format("in [{}, {}]", lo, hi));
}
const double unbounded = std::numeric_limits<double>::infinity();
const CLI::Validator positive = number_in(0, false, unbounded);
const CLI::Validator non_negative = number_in(0, true, unbounded);
const CLI::Validator probability = number_in(0, true, 1);

// CLI11 reads "-1" and 2^64 alike into a uint64_t as 2^64 - 1: a seed is digits only, and fits.
const CLI::Validator whole_number(
    [](std::string& text) -> std::string {
      uint64_t value = 0;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (!text.empty() && error == std::errc{} && end == text.data() + text.size()) return "";
      return "must be a whole number from 0 to 18446744073709551615, got " + text;
    },
    "0 to 2^64-1");

// PyTorch allows p = 1, and so does vkdrop; but a sample run with it trains at chance, so say so first.
void warn_about_dropout_of_one(const Options& o) {
  const std::pair<const char*, double> flags[] = {
      {"--input-dropout", o.input_dropout}, {"--dropout", o.dropout},
      {"--conv-dropout-p", is_cnn(o) && o.conv_dropout != "none" ? o.conv_dropout_p : 0.0}};
  for (const auto& [flag, p] : flags) {
    if (p == 1.0) {
      std::fprintf(stderr, "mnist_mlp: warning: %s 1 drops every unit in training: the layers after it see only zeros, "
                           "so the net learns nothing and classifies at chance (90%% error). Did you mean 0.1?\n", flag);
    }
  }
}

// Test error of Monte Carlo dropout: each image's class is the argmax of the mean class probabilities of
// `passes` forward passes with dropout on (the pixels scaled as DeviceDataset scales them on the device).
double mc_dropout_error(vkdrop::Model& model, const vkdrop::MnistSplit& test, int passes, ProgressLine& line) {
  std::vector<float> inputs(test.images.size());
  for (size_t i = 0; i < inputs.size(); ++i) inputs[i] = static_cast<float>(test.images[i]) * (1.0f / 255.0f);
  const std::vector<float> probs = model.predict_mc(
      inputs, test.count, passes, [&](const vkdrop::PredictProgress& p) { line.update_mc(p, passes, test.count); });
  line.clear();
  const size_t classes = probs.size() / test.count;
  size_t wrong = 0;
  for (size_t i = 0; i < test.count; ++i) {
    const float* row = &probs[i * classes];
    wrong += static_cast<size_t>(std::max_element(row, row + classes) - row) != test.labels[i];
  }
  return static_cast<double>(wrong) / test.count;
}

int run(const Options& o) {
  // A checkpoint that cannot be written would fail only after the first epoch: find out first.
  if (!o.save.empty()) vkdrop::check_can_write(o.save);
  const std::filesystem::path data_dir = o.data_dir.empty() ? vkdrop::default_data_dir() : std::filesystem::path(o.data_dir);
  vkdrop::Mnist mnist = vkdrop::load_mnist(data_dir);
  if (o.train_subset > 0 && o.train_subset < mnist.train.count) {
    mnist.train.count = static_cast<uint32_t>(o.train_subset);
    mnist.train.images.resize(static_cast<size_t>(o.train_subset) * 784);
    mnist.train.labels.resize(static_cast<size_t>(o.train_subset));
  }

  vkdrop::ContextOptions context_options;
  context_options.device = o.device;
  vkdrop::Context context(context_options);
  const vkdrop::Sequential net = build_net(o);
  vkdrop::Model model(context, net, sample_shape(o), train_config(o));
  fmt::print("{}\n", model.summary());
  const auto train = vkdrop::DeviceDataset::mnist(context, mnist.train, "MNIST train", sample_shape(o));
  const auto test = vkdrop::DeviceDataset::mnist(context, mnist.test, "MNIST test", sample_shape(o));
  fmt::print("data: {} training, {} test images from {}\n", train.count(), test.count(), data_dir.string());

  if (!o.resume.empty()) {
    model.load(o.resume, /*with_optimizer=*/true);
    fmt::print("resumed from {} at epoch {}, step {}\n", o.resume, model.epoch(), model.step());
  }
  std::ofstream metrics;
  if (!o.metrics.empty()) {
    metrics.open(o.metrics, std::ios::app);
    if (!metrics) throw vkdrop::DataError(fmt::format("{}: cannot open the metrics file for writing", o.metrics));
  }

  ProgressLine line(::isatty(STDOUT_FILENO) != 0);
  std::optional<vkdrop::Metrics> eval;  // of the last epoch trained here, if any
  for (int epoch = static_cast<int>(model.epoch()) + 1; epoch <= o.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    const vkdrop::Metrics tr = model.train_epoch(train, [&](const vkdrop::Progress& p) { line.update(epoch, o.epochs, p, o.batch); });
    const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    eval = model.evaluate(test);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double rate = static_cast<double>(tr.samples) / train_seconds;
    line.clear();
    fmt::print("epoch {:3d}/{}  train loss {:.4f}  train error {:5.2f}%  test loss {:.4f}  test error {:5.2f}%  "
               "{:.1f}s  {:.0f} samples/s\n",
               epoch, o.epochs, tr.loss, 100 * tr.error, eval->loss, 100 * eval->error, seconds, rate);
    std::fflush(stdout);
    if (metrics) {
      metrics << nlohmann::json{{"epoch", epoch},          {"train_loss", tr.loss},   {"train_error", tr.error},
                                {"test_error", eval->error}, {"test_loss", eval->loss}, {"seconds", seconds},
                                {"samples_per_s", rate}}
                     .dump()
              << "\n";
      metrics.flush();
    }
    if (!o.save.empty()) model.save(o.save);
  }
  if (o.profile) {
    fmt::print("GPU time per dispatch of one training step:\n");
    for (const auto& t : model.step_timings()) fmt::print("  {:>8.3f} ms  {}\n", t.milliseconds, t.label);
    fmt::print("host time per step to submit: {:.1f} us\n", model.host_seconds_per_step() * 1e6);
  }
  if (!eval) eval = model.evaluate(test);  // a checkpoint resumed at or past --epochs: nothing trained here
  if (o.mc_passes > 0) {
    const auto start = std::chrono::steady_clock::now();
    const double error = mc_dropout_error(model, mnist.test, o.mc_passes, line);
    fmt::print("test error with Monte Carlo dropout ({} passes): {:.2f}%  ({:.1f}s); dropout off (the usual): {:.2f}%\n",
               o.mc_passes, 100 * error, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
               100 * eval->error);
  }
  fmt::print("test error: {:.2f}%\n", 100 * eval->error);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Train the dropout MLP of Srivastava et al. 2014 (or, with --model cnn, a convolutional net with "
               "BatchNorm and Dropout2d) on MNIST with vkdrop (Vulkan compute)."};
  app.option_defaults()->always_capture_default();
  app.add_option("--model", o.model, "mlp: the dropout MLP; cnn: Conv-BatchNorm-ReLU-Dropout2d-MaxPool twice, then "
                                     "--hidden (default 256 for cnn) with --dropout, then the classifier")
      ->check(CLI::IsMember({"mlp", "cnn"}));
  app.add_option("--channels", o.channels, "cnn: output channels of the conv blocks, comma-separated")
      ->delimiter(',')->check(positive);
  app.add_option("--conv-dropout", o.conv_dropout, "cnn: dropout after each conv block: channel (Dropout2d, whole "
                                                   "feature maps), element (Dropout) or none")
      ->check(CLI::IsMember({"channel", "element", "none"}));
  app.add_option("--conv-dropout-p", o.conv_dropout_p, "cnn: its probability")->check(probability);
  auto* hidden = app.add_option("--hidden", o.hidden, "hidden layer sizes, comma-separated (the paper: 1024,1024,1024; "
                                                      "cnn: 256)")
      ->delimiter(',')->check(positive);
  app.add_option("--input-dropout", o.input_dropout, "dropout probability on the input pixels (paper: 0.2; 0 = none)")
      ->check(probability);
  app.add_option("--dropout", o.dropout, "dropout probability after each hidden layer (paper: 0.5; 0 = none)")
      ->check(probability);
  app.add_option("--scaling", o.scaling, "inverted: scale kept units by 1/(1-p) in training (PyTorch); vanilla: "
                                         "scale by (1-p) at test time (the paper)")
      ->check(CLI::IsMember({"inverted", "vanilla"}));
  app.add_option("--optimizer", o.optimizer, "sgd (with momentum), adam or adamw")->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  app.add_option("--lr", o.lr, "base learning rate")->check(positive);
  app.add_option("--schedule", o.schedule, "learning-rate decay: constant, step (x gamma every --step-epochs), "
                                           "exponential (x gamma every epoch), cosine (to --lr-min at the last epoch)")
      ->check(CLI::IsMember({"constant", "step", "exponential", "cosine"}));
  app.add_option("--gamma", o.gamma, "decay factor for step and exponential schedules")->check(number_in(1e-9, true, 1));
  app.add_option("--step-epochs", o.step_epochs, "epochs between decays of the step schedule")->check(positive);
  app.add_option("--lr-min", o.lr_min, "final learning rate of the cosine schedule")->check(non_negative);
  app.add_option("--momentum", o.momentum, "SGD momentum (after the ramp)")->check(number_in(0, true, 0.999999));
  app.add_option("--momentum-start", o.momentum_start, "momentum at step 0 of the ramp (paper: 0.5)")->check(number_in(0, true, 0.999999));
  app.add_option("--momentum-ramp-epochs", o.momentum_ramp_epochs, "epochs to ramp momentum linearly from "
                                                                   "--momentum-start to --momentum (0 = no ramp)")
      ->check(non_negative);
  app.add_flag("--nesterov", o.nesterov, "Nesterov momentum");
  app.add_option("--weight-decay", o.weight_decay, "L2 weight decay (decoupled for adamw)")->check(non_negative);
  app.add_option("--max-norm", o.max_norm, "cap each unit's incoming weight norm (every Linear layer's rows, the "
                                           "output layer's too, and each conv filter) at this value after every "
                                           "update (paper: 3 to 4; 0 = off)")->check(non_negative);
  app.add_option("--batch", o.batch, "training batch size")->check(positive);
  app.add_option("--eval-batch", o.eval_batch, "evaluation batch size")->check(positive);
  app.add_option("--epochs", o.epochs, "epochs to train (in all, counting those of a resumed checkpoint)")->check(positive);
  app.add_option("--train-subset", o.train_subset, "train on the first N images only (0 = all 60000)")->check(non_negative);
  app.add_option("--seed", o.seed, "seed for initialization, shuffling and dropout masks (same seed and device: "
                                   "bit-identical weights)")
      ->check(whole_number);
  app.add_option("--init", o.init, "weight init: pytorch (Kaiming-uniform, PyTorch's default) or xavier")
      ->check(CLI::IsMember({"pytorch", "xavier"}));
  app.add_option("--device", o.device, "Vulkan device: index or name substring (default: $VKDROP_DEVICE, else the best)");
  app.add_option("--data-dir", o.data_dir, "directory with the MNIST IDX files (default: $VKDROP_DATA_DIR, else "
                                           "~/.cache/vkdrop/mnist; fetch with ./vkdrop.sh data)");
  app.add_option("--save", o.save, "save a checkpoint here after every epoch (safetensors; optimizer state in FILE.optim)");
  app.add_option("--resume", o.resume, "resume training from this checkpoint (and FILE.optim)");
  app.add_option("--metrics", o.metrics, "append one JSON object per epoch to this file");
  app.add_flag("--profile", o.profile, "time every dispatch of the training step on the GPU and print the table");
  app.add_option("--mc-passes", o.mc_passes, "after training, also classify the test set by Monte Carlo dropout: the "
                                             "mean probabilities of this many passes with dropout on (0 = off)")
      ->check(CLI::Range(0, 100000));
  CLI11_PARSE(app, argc, argv);
  if (is_cnn(o)) {
    // The CNN's own defaults where the user gave none: no dropout on the pixels (the conv blocks have theirs),
    // one dense layer of 256.
    if (hidden->count() == 0) o.hidden = {256};
    if (app.count("--input-dropout") == 0) o.input_dropout = 0;
    // Each conv layer keeps its im2col buffer per batch size: 1000 images of 28 x 28 would need more than
    // one binding may cover on lavapipe (128 MiB).
    if (app.count("--eval-batch") == 0) o.eval_batch = 200;
  }
  warn_about_dropout_of_one(o);

  try {
    return run(o);
  } catch (const vkdrop::NumericalError& e) {
    std::fprintf(stderr, "\nmnist_mlp: training diverged: %s\n", e.what());
    return 3;
  } catch (const vkdrop::Error& e) {
    std::fprintf(stderr, "\nmnist_mlp: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {  // not ours (the file system, the C++ library): still a message, not an abort
    std::fprintf(stderr, "\nmnist_mlp: unexpected error: %s\n", e.what());
    return 1;
  }
}

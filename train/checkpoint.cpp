// Model::save / Model::load: checkpoints as two safetensors files.
//
//   PATH        the weights, named as PyTorch's nn.Sequential state_dict ("0.weight", "0.bias", ...), so
//               `model.load_state_dict(safetensors.torch.load_file(PATH))` works as it is.
//   PATH.optim  the optimizer state under PyTorch's names ("momentum_buffer.0.weight", "exp_avg.0.weight",
//               "exp_avg_sq.0.weight"), with the step and epoch counters in its metadata.
//
// Both carry the same random checkpoint id, so a resume never pairs weights with another run's optimizer
// state. The optimizer file is written first and the weights last: each write is atomic (safetensors.cpp),
// so a crash at any point leaves a complete checkpoint — the new one or the old one.

#include "runtime/error.hpp"
#include "train/model.hpp"
#include "train/safetensors.hpp"

#include <fmt/format.h>

#include <random>

namespace vkdrop {

namespace {

std::filesystem::path optimizer_path(const std::filesystem::path& path) {
  std::filesystem::path p = path;
  p += ".optim";
  return p;
}

uint64_t parse_u64(const SafetensorsFile& file, const std::string& key, const std::filesystem::path& path) {
  auto it = file.metadata.find(key);
  if (it == file.metadata.end()) throw DataError(fmt::format("{}: metadata has no '{}'", path.string(), key));
  try {
    return std::stoull(it->second);
  } catch (const std::exception&) {
    throw DataError(fmt::format("{}: metadata '{}' = '{}' is not a number", path.string(), key, it->second));
  }
}

}  // namespace

void Model::save(const std::filesystem::path& path) {
  const std::string id = fmt::format("{:016x}", std::random_device{}() * 0x100000001ull ^ step_);
  std::map<std::string, std::string> meta{{"format", "vkdrop"},
                                          {"architecture", net_.describe()},
                                          {"step", std::to_string(step_)},
                                          {"epoch", std::to_string(epoch_)},
                                          {"seed", std::to_string(config_.seed)},
                                          {"checkpoint_id", id}};

  SafetensorsFile optim;
  optim.metadata = meta;
  const bool adam = std::holds_alternative<Adam>(config_.optimizer);
  optim.metadata["optimizer"] = adam ? "Adam" : "SGD";
  auto add_state = [&](const Tensor& flat, const std::string& prefix) {
    const auto values = download_f32(context_, flat);
    for (const Tensor* p : param_views_) {
      const auto begin = values.begin() + static_cast<int64_t>((p->slice.offset - params_.slice.offset) / 4);
      optim.tensors.push_back(NamedTensor{prefix + p->name, p->shape, std::vector<float>(begin, begin + p->numel())});
    }
  };
  add_state(state1_, adam ? "exp_avg." : "momentum_buffer.");
  if (adam) add_state(state2_, "exp_avg_sq.");
  write_safetensors(optimizer_path(path), optim);

  SafetensorsFile weights;
  weights.metadata = meta;
  weights.tensors = state_dict();
  write_safetensors(path, weights);
}

void Model::load(const std::filesystem::path& path, bool with_optimizer) {
  const SafetensorsFile weights = read_safetensors(path);
  load_state_dict(weights.tensors);
  if (!with_optimizer) return;

  const std::filesystem::path optim_path = optimizer_path(path);
  if (!std::filesystem::exists(optim_path)) {
    throw DataError(fmt::format("{}: missing; it holds the optimizer state needed to resume training from {} "
                                "(load the weights alone to fine-tune or evaluate)", optim_path.string(), path.string()));
  }
  const SafetensorsFile optim = read_safetensors(optim_path);
  if (weights.metadata.count("checkpoint_id") == 0 ||
      optim.metadata.count("checkpoint_id") == 0 ||
      weights.metadata.at("checkpoint_id") != optim.metadata.at("checkpoint_id")) {
    throw DataError(fmt::format("{} and {} come from different saves; resume needs the pair written together",
                                path.string(), optim_path.string()));
  }
  const uint64_t seed = parse_u64(optim, "seed", optim_path);
  if (seed != config_.seed) {
    throw ArgumentError(fmt::format("{} was trained with seed {}, this model has seed {}: resume with the same seed "
                                    "so the shuffles and dropout masks continue where they left off",
                                    path.string(), seed, config_.seed));
  }
  const bool adam = std::holds_alternative<Adam>(config_.optimizer);
  const std::string kind = adam ? "Adam" : "SGD";
  if (optim.metadata.count("optimizer") == 0 || optim.metadata.at("optimizer") != kind) {
    throw DataError(fmt::format("{} holds {} state; this model uses {}", optim_path.string(),
                                optim.metadata.count("optimizer") ? optim.metadata.at("optimizer") : "unknown", kind));
  }
  auto load_state = [&](const Tensor& flat, const std::string& prefix) {
    std::vector<float> values(static_cast<size_t>(flat.numel()), 0.0f);
    for (const Tensor* p : param_views_) {
      const NamedTensor* t = optim.find(prefix + p->name);
      if (t == nullptr || t->shape != p->shape) {
        throw DataError(fmt::format("{}: {}{} is missing or not of shape {}", optim_path.string(), prefix, p->name,
                                    shape_text(p->shape)));
      }
      std::copy(t->values.begin(), t->values.end(),
                values.begin() + static_cast<int64_t>((p->slice.offset - params_.slice.offset) / 4));
    }
    upload(context_, flat, std::span<const float>(values));
  };
  load_state(state1_, adam ? "exp_avg." : "momentum_buffer.");
  if (adam) load_state(state2_, "exp_avg_sq.");
  step_ = parse_u64(optim, "step", optim_path);
  epoch_ = parse_u64(optim, "epoch", optim_path);
  reset_counter(step_counter_, step_);
}

}  // namespace vkdrop

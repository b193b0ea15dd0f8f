// Model::save / Model::load: checkpoints as two safetensors files.
//
//   PATH        the weights, named as PyTorch's nn.Sequential state_dict ("0.weight", "0.bias", ...), so
//               `model.load_state_dict(safetensors.torch.load_file(PATH))` works as it is.
//   PATH.optim  the optimizer state under PyTorch's names ("momentum_buffer.0.weight", "exp_avg.0.weight",
//               "exp_avg_sq.0.weight"), with the step and epoch counters in its metadata.
//
// Both carry the same random checkpoint id, so a resume never pairs weights with another run's optimizer
// state, and load() takes whichever of PATH.optim and PATH.optim.old carries the id of PATH. A save
//   1. keeps the optimizer file that matches the PATH on disk as PATH.optim.old: it renames PATH.optim there
//      when that is the match; after a crashed save the match may already be PATH.optim.old, and then
//      PATH.optim (the crashed save's, matching nothing) must not replace it;
//   2. writes the new PATH.optim, then the new PATH (each write atomic: safetensors.cpp);
//   3. deletes PATH.optim.old.
// Until step 2 has put the new PATH in place, PATH and PATH.optim.old are the pair written together, so a
// crash at any point, of any save, after any number of earlier crashes, leaves a pair that resumes.

#include <vkdrop/runtime/error.hpp>
#include <vkdrop/train/model.hpp>
#include <vkdrop/train/parameter_store.hpp>
#include <vkdrop/train/programs.hpp>
#include <vkdrop/train/safetensors.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <random>

namespace vkdrop {

namespace {

std::filesystem::path with_suffix(const std::filesystem::path& path, const char* suffix) {
  std::filesystem::path p = path;
  p += suffix;
  return p;
}

uint64_t parse_u64(const SafetensorsFile& file, const std::string& key, const std::filesystem::path& path) {
  auto it = file.metadata.find(key);
  if (it == file.metadata.end()) throw DataError(fmt::format("{}: metadata has no '{}'", path.string(), key));
  const std::string& text = it->second;
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size()) {
    throw DataError(fmt::format("{}: metadata '{}' = '{}' is not a whole number", path.string(), key, text));
  }
  return value;
}

std::string checkpoint_id(const std::map<std::string, std::string>& metadata) {
  auto it = metadata.find("checkpoint_id");
  return it == metadata.end() ? std::string{} : it->second;
}

// The checkpoint id in a file's header; empty when there is no such file or it is not a readable checkpoint.
std::string stored_checkpoint_id(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return {};
  try {
    return checkpoint_id(read_safetensors_metadata(path));
  } catch (const DataError&) {
    return {};
  }
}

// Weights or optimizer state that are not finite never train again (every later step is NaN), and save()
// never writes them: a file holding them is damaged or not vkdrop's, and is refused naming the tensor.
void throw_if_not_finite(const SafetensorsFile& file, const std::filesystem::path& path) {
  for (const NamedTensor& t : file.tensors) {
    const auto bad = std::find_if(t.values.begin(), t.values.end(), [](float v) { return !std::isfinite(v); });
    if (bad != t.values.end()) {
      throw DataError(fmt::format("{}: tensor {} holds {} at element {} of {}; a checkpoint must be finite to train or "
                                  "predict from (a damaged file, or one written by another program from a run that "
                                  "diverged?)", path.string(), t.name, *bad, bad - t.values.begin(), t.values.size()));
    }
  }
}

}  // namespace

void Model::save(const std::filesystem::path& path) {
  try {
    write_checkpoint(path);
  } catch (const VulkanError& fault) {  // reading the weights back: nothing was written
    throw_device_fault(fault, fmt::format("reading the weights back to save them to {}", path.string()));
  }
  last_checkpoint_ = path;
  last_checkpoint_epoch_ = epoch_;
}

void Model::write_checkpoint(const std::filesystem::path& path) {
  SafetensorsFile weights;
  weights.tensors = state_dict();
  for (const NamedTensor& t : weights.tensors) {
    if (!std::all_of(t.values.begin(), t.values.end(), [](float v) { return std::isfinite(v); })) {
      throw NumericalError(fmt::format("{} holds NaN or inf after {} steps: not saved over {} (training diverged; the "
                                       "checkpoint there is untouched)", t.name, step_, path.string()));
    }
  }
  const std::string id = fmt::format("{:016x}", std::random_device{}() * 0x100000001ull ^ step_);
  weights.metadata = {{"format", "vkdrop"},
                      {"architecture", net_.describe()},
                      {"step", std::to_string(step_)},
                      {"epoch", std::to_string(epoch_)},
                      {"seed", std::to_string(config_.seed)},
                      {"checkpoint_id", id}};

  SafetensorsFile optim;
  optim.metadata = weights.metadata;
  optim.metadata["optimizer"] = config_.optimizer->name();
  const std::vector<std::string> slots = config_.optimizer->state_names();
  for (size_t k = 0; k < slots.size(); ++k) {
    for (NamedTensor& t : store_->slot_dict(optimizer_state_[k], slots[k] + ".")) optim.tensors.push_back(std::move(t));
  }

  const auto optim_path = with_suffix(path, ".optim"), old_optim_path = with_suffix(path, ".optim.old");
  // Step 1 of the header comment: PATH.optim.old is replaced only by the file that matches PATH.
  const std::string on_disk = stored_checkpoint_id(path);
  if (!on_disk.empty() && stored_checkpoint_id(optim_path) == on_disk) rename_durably(optim_path, old_optim_path);
  write_safetensors(optim_path, optim);
  write_safetensors(path, weights);
  std::error_code ignored;  // a leftover PATH.optim.old is harmless: its id matches no PATH any more
  std::filesystem::remove(old_optim_path, ignored);
}

void Model::load(const std::filesystem::path& path, bool with_optimizer) {
  // Read and check everything first, change the model last: a refused checkpoint leaves it as it was.
  const SafetensorsFile weights = read_safetensors(path);
  std::vector<std::string> problems;
  const ParameterStore::Contents contents = store_->gather(weights.tensors, /*exact=*/true, problems);
  throw_if_problems(problems, path.string());
  throw_if_not_finite(weights, path);
  if (!with_optimizer) {
    store_->upload(contents);
    return;
  }

  // The optimizer file written with these weights: PATH.optim, or PATH.optim.old after a save that crashed.
  const std::string id = checkpoint_id(weights.metadata);
  std::optional<SafetensorsFile> optim;
  std::filesystem::path optim_path;
  for (const char* suffix : {".optim", ".optim.old"}) {
    const auto candidate = with_suffix(path, suffix);
    if (id.empty() || !std::filesystem::exists(candidate) || checkpoint_id(read_safetensors_metadata(candidate)) != id)
      continue;
    optim = read_safetensors(candidate);
    optim_path = candidate;
    throw_if_not_finite(*optim, optim_path);
    break;
  }
  if (!optim) {
    const auto expected = with_suffix(path, ".optim");
    if (!std::filesystem::exists(expected)) {
      throw DataError(fmt::format("{}: missing; it holds the optimizer state needed to resume training from {} "
                                  "(load the weights alone to fine-tune or evaluate)", expected.string(), path.string()));
    }
    throw DataError(fmt::format("{} and {} come from different saves; resume needs the pair written together",
                                path.string(), expected.string()));
  }
  const uint64_t seed = parse_u64(*optim, "seed", optim_path);
  if (seed != config_.seed) {
    throw ArgumentError(fmt::format("{} was trained with seed {}, this model has seed {}: resume with the same seed "
                                    "so the shuffles and dropout masks continue where they left off",
                                    path.string(), seed, config_.seed));
  }
  const std::string kind = config_.optimizer->name();
  const auto stored = optim->metadata.find("optimizer");
  if (stored == optim->metadata.end() || stored->second != kind) {
    throw DataError(fmt::format("{} holds {} state; this model uses {}", optim_path.string(),
                                stored == optim->metadata.end() ? "unknown" : stored->second, kind));
  }
  std::vector<std::vector<float>> slots;
  for (const std::string& slot : config_.optimizer->state_names())
    slots.push_back(store_->gather_slot(optim->tensors, slot + ".", problems));
  throw_if_problems(problems, optim_path.string());
  const uint64_t step = parse_u64(*optim, "step", optim_path), epoch = parse_u64(*optim, "epoch", optim_path);

  store_->upload(contents);
  for (size_t k = 0; k < slots.size(); ++k) {
    if (optimizer_state_[k].numel() > 0) upload(context_, optimizer_state_[k], std::span<const float>(slots[k]));
  }
  step_ = step;
  epoch_ = epoch;
  reset_counter(context_, counters_->step, step_);
  reset_counter(context_, counters_->first_bad, 0);
  last_checkpoint_ = path;
  last_checkpoint_epoch_ = epoch_;
}

}  // namespace vkdrop

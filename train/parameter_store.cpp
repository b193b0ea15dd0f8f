#include <vkdrop/train/parameter_store.hpp>

#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace vkdrop {

namespace {

uint64_t aligned_floats(uint64_t floats, uint64_t align_bytes) {
  const uint64_t align = std::max<uint64_t>(align_bytes / 4, 1);
  return (floats + align - 1) / align * align;
}

// A flat slice of `floats`, or an empty tensor when there is nothing to hold.
Tensor make_flat(Arena& arena, uint64_t floats, const std::string& name) {
  if (floats == 0) return Tensor{BufferSlice{}, {0}, DType::f32, name};
  return make_tensor(arena, {static_cast<int64_t>(floats)}, DType::f32, name);
}

Tensor view(const Tensor& flat, uint64_t offset, const Shape& shape, const std::string& name) {
  const uint64_t bytes = static_cast<uint64_t>(element_count(shape)) * 4;
  return Tensor{bytes == 0 ? BufferSlice{} : flat.slice.sub(offset * 4, bytes), shape, DType::f32, name};
}

void upload_flat(Context& context, const Tensor& flat, const std::vector<float>& values) {
  if (flat.numel() > 0) upload(context, flat, std::span<const float>(values));
}

}  // namespace

ParameterStore::ParameterStore(Context& context, Arena& arena, const Sequential& net, const Shape& input)
    : context_(context) {
  const DeviceInfo& device = context_.info();
  const uint64_t align = device.binding_offset_alignment();
  const std::vector<Shape> shapes = net.shapes(input);
  uint64_t param_floats = 0, state_floats = 0;
  std::vector<bool> capped;  // per entry: max-norm caps it
  for (size_t i = 0; i < net.size(); ++i) {
    for (const BufferSpec& spec : net[i].buffers(shapes[i])) {
      if (spec.kind == BufferKind::Scratch) continue;
      const std::string name = fmt::format("{}.{}", i, spec.name);
      const auto refuse = [&](const std::string& why) {
        throw ArgumentError(fmt::format("layer {} {}: {} {}: {}", i, net[i].describe(), name, shape_text(spec.shape),
                                        why));
      };
      if (spec.dtype != DType::f32) refuse(fmt::format("is {}; parameters and state are f32", dtype_name(spec.dtype)));
      if (spec.max_norm_axis && (spec.kind != BufferKind::Parameter || *spec.max_norm_axis != 0 || spec.shape.empty()))
        refuse("max-norm caps the slices along axis 0 of a parameter (one unit per output) and nothing else");
      const uint64_t floats = static_cast<uint64_t>(element_count(spec.shape));
      if (floats * 4 > device.max_storage_buffer_range)
        refuse(fmt::format("{} bytes, more than one binding may cover on {} ({} bytes)", floats * 4, device.name,
                           device.max_storage_buffer_range));
      entries_.push_back({i, name, spec.shape, spec.kind, 0});
      capped.push_back(spec.max_norm_axis.has_value());
      if (spec.kind == BufferKind::Parameter) parameter_count_ += element_count(spec.shape);
    }
  }
  // Offsets: the parameters max-norm caps first, then the others (biases, BatchNorm's weights), so that the
  // optimizer updates all of those in one dispatch beside one fused update-and-cap per capped matrix
  // (train/sgd.cpp), not one per range between capped matrices. Every buffer starts at an offset a shader may bind
  // (minStorageBufferOffsetAlignment); the padding stays zero and no update moves it away from zero. Checkpoints
  // name every buffer, so the layout is free to change.
  for (bool first_pass : {true, false}) {
    for (size_t k = 0; k < entries_.size(); ++k) {
      Entry& e = entries_[k];
      const bool parameter = e.kind == BufferKind::Parameter;
      if (parameter ? capped[k] != first_pass : !first_pass) continue;
      uint64_t& total = parameter ? param_floats : state_floats;
      e.offset = total;
      total = aligned_floats(total + static_cast<uint64_t>(element_count(e.shape)), align);
    }
  }
  // An optimizer updates all parameters through one binding.
  if (param_floats * 4 > device.max_storage_buffer_range) {
    throw ArgumentError(fmt::format("the model's {} parameters need {} bytes, more than one binding may cover on {} "
                                    "({} bytes), and the optimizer updates them through one",
                                    parameter_count_, param_floats * 4, device.name, device.max_storage_buffer_range));
  }
  params_ = make_flat(arena, param_floats, "parameters");
  grads_ = make_flat(arena, param_floats, "gradients");
  state_ = make_flat(arena, state_floats, "state");

  layer_params_.resize(net.size());
  layer_grads_.resize(net.size());
  layer_state_.resize(net.size());
  size_t next = 0;
  for (size_t i = 0; i < net.size(); ++i) {
    for (const BufferSpec& spec : net[i].buffers(shapes[i])) {
      if (spec.kind == BufferKind::Scratch) continue;
      const Entry& e = entries_[next++];
      if (e.kind == BufferKind::State) {
        layer_state_[i].push_back(view(state_, e.offset, e.shape, e.name));
        continue;
      }
      layer_params_[i].push_back(view(params_, e.offset, e.shape, e.name));
      layer_grads_[i].push_back(view(grads_, e.offset, e.shape, e.name + ".grad"));
      const int64_t units = e.shape.empty() ? 0 : e.shape[0];
      if (spec.max_norm_axis && units > 0) {
        max_norm_rows_.push_back(reshaped(layer_params_[i].back(), {units, element_count(e.shape) / units}));
      }
    }
  }
}

Tensor ParameterStore::make_slot(Arena& arena, const std::string& name) const {
  Tensor slot = make_flat(arena, static_cast<uint64_t>(params_.numel()), name);
  upload_flat(context_, slot, std::vector<float>(static_cast<size_t>(slot.numel()), 0.0f));
  return slot;
}

void ParameterStore::initialize(const Sequential& net, uint64_t seed, Init init) {
  Contents host{std::vector<float>(static_cast<size_t>(params_.numel()), 0.0f),
                std::vector<float>(static_cast<size_t>(state_.numel()), 0.0f)};
  std::mt19937_64 rng(seed);
  size_t next = 0;
  for (size_t i = 0; i < net.size(); ++i) {
    const size_t first = next;
    std::vector<std::vector<float>> values;
    while (next < entries_.size() && entries_[next].layer == i) {
      values.emplace_back(static_cast<size_t>(element_count(entries_[next++].shape)), 0.0f);
    }
    net[i].initialize(values, rng, init);
    for (size_t k = 0; k < values.size(); ++k) {
      const Entry& e = entries_[first + k];
      std::vector<float>& flat = e.kind == BufferKind::Parameter ? host.parameters : host.state;
      std::copy(values[k].begin(), values[k].end(), flat.begin() + static_cast<int64_t>(e.offset));
    }
  }
  upload(host);
  upload_flat(context_, grads_, std::vector<float>(static_cast<size_t>(grads_.numel()), 0.0f));
}

std::vector<NamedTensor> ParameterStore::state_dict() const {
  const std::vector<float> params = params_.numel() > 0 ? download_f32(context_, params_) : std::vector<float>{};
  const std::vector<float> state = state_.numel() > 0 ? download_f32(context_, state_) : std::vector<float>{};
  std::vector<NamedTensor> tensors;
  for (const Entry& e : entries_) {
    const auto begin = (e.kind == BufferKind::Parameter ? params : state).begin() + static_cast<int64_t>(e.offset);
    tensors.push_back(NamedTensor{e.name, e.shape, std::vector<float>(begin, begin + element_count(e.shape))});
  }
  return tensors;
}

std::vector<NamedTensor> ParameterStore::slot_dict(const Tensor& slot, const std::string& prefix) const {
  const std::vector<float> values = slot.numel() > 0 ? download_f32(context_, slot) : std::vector<float>{};
  std::vector<NamedTensor> tensors;
  for (const Entry& e : entries_) {
    if (e.kind != BufferKind::Parameter) continue;
    const auto begin = values.begin() + static_cast<int64_t>(e.offset);
    tensors.push_back(NamedTensor{prefix + e.name, e.shape, std::vector<float>(begin, begin + element_count(e.shape))});
  }
  return tensors;
}

namespace {

// Copies the tensor called `name` into flat[offset...], or says why not.
void take(const std::vector<NamedTensor>& tensors, const std::string& name, const Shape& shape, std::vector<float>& flat,
          uint64_t offset, std::vector<std::string>& problems) {
  auto it = std::find_if(tensors.begin(), tensors.end(), [&](const NamedTensor& t) { return t.name == name; });
  if (it == tensors.end()) {
    problems.push_back(fmt::format("missing {} {}", name, shape_text(shape)));
  } else if (it->shape != shape) {
    problems.push_back(fmt::format("{}: the model has {}, the checkpoint {}", name, shape_text(shape),
                                   shape_text(it->shape)));
  } else if (static_cast<int64_t>(it->values.size()) != element_count(shape)) {
    problems.push_back(fmt::format("{}: shape {} but {} values", name, shape_text(it->shape), it->values.size()));
  } else {
    std::copy(it->values.begin(), it->values.end(), flat.begin() + static_cast<int64_t>(offset));
  }
}

}  // namespace

ParameterStore::Contents ParameterStore::gather(const std::vector<NamedTensor>& tensors, bool exact,
                                                std::vector<std::string>& problems) const {
  Contents contents{std::vector<float>(static_cast<size_t>(params_.numel()), 0.0f),
                    std::vector<float>(static_cast<size_t>(state_.numel()), 0.0f)};
  for (const Entry& e : entries_) {
    take(tensors, e.name, e.shape, e.kind == BufferKind::Parameter ? contents.parameters : contents.state, e.offset,
         problems);
  }
  if (exact) {
    for (const NamedTensor& t : tensors) {
      if (std::none_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.name == t.name; }))
        problems.push_back(fmt::format("unexpected {} {}", t.name, shape_text(t.shape)));
    }
  }
  return contents;
}

std::vector<float> ParameterStore::gather_slot(const std::vector<NamedTensor>& tensors, const std::string& prefix,
                                               std::vector<std::string>& problems) const {
  std::vector<float> flat(static_cast<size_t>(params_.numel()), 0.0f);
  for (const Entry& e : entries_) {
    if (e.kind == BufferKind::Parameter) take(tensors, prefix + e.name, e.shape, flat, e.offset, problems);
  }
  return flat;
}

void ParameterStore::upload(const Contents& contents) {
  upload_flat(context_, params_, contents.parameters);
  upload_flat(context_, state_, contents.state);
}

}  // namespace vkdrop

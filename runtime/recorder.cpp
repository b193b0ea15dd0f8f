#include <vkdrop/runtime/recorder.hpp>

#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/faults.hpp>
#include <vkdrop/runtime/kernel.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace vkdrop {

namespace {

constexpr uint32_t k_sets_per_pool = 256;
constexpr uint32_t k_max_timestamps = 8192;
constexpr VkPipelineStageFlags k_compute = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT;
constexpr VkPipelineStageFlags k_transfer = VK_PIPELINE_STAGE_TRANSFER_BIT;

}  // namespace

Recorder::Recorder(Context& context, RecorderOptions options) : context_(context), options_(options) {
  VkDevice device = context_.device();
  VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  alloc.commandPool = context_.command_pool();
  alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  alloc.commandBufferCount = 1;
  if (options_.max_in_flight == 0) throw ArgumentError("RecorderOptions::max_in_flight must be at least 1");
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  VKDROP_CHECK(vkAllocateCommandBuffers(device, &alloc, &cmd));
  cmd_ = UniqueCommandBuffer(device, context_.command_pool(), cmd);
  for (uint32_t i = 0; i < options_.max_in_flight; ++i) {
    VkFenceCreateInfo fence_info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkFence fence;
    VKDROP_CHECK(vkCreateFence(device, &fence_info, nullptr, &fence));
    fences_.emplace_back(device, fence);
  }

  if (options_.timestamps && !context_.timestamps_supported()) options_.timestamps = false;
  if (options_.timestamps) {
    VkQueryPoolCreateInfo query_info{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    query_info.queryType = VK_QUERY_TYPE_TIMESTAMP;
    query_info.queryCount = k_max_timestamps;
    VkQueryPool pool;
    VKDROP_CHECK(vkCreateQueryPool(device, &query_info, nullptr, &pool));
    queries_ = UniqueQueryPool(device, pool);
  }
}

Recorder::~Recorder() {
  // Never free a command buffer the device may still run (errors here have nowhere to go; a device that is
  // lost or hung past the deadline runs nothing any more).
  for (; in_flight_ > 0; --in_flight_) {
    const auto& fence = fences_[(submitted_ - in_flight_) % fences_.size()];
    vkWaitForFences(context_.device(), 1, fence.ptr(), VK_TRUE, fence_timeout_ns());
  }
}

void Recorder::begin_if_needed() {
  if (finished_) {
    throw ArgumentError("This Recorder was finished; record into a new Recorder instead of appending to a replayed one.");
  }
  if (begun_) return;
  VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  begin.flags = VK_COMMAND_BUFFER_USAGE_SIMULTANEOUS_USE_BIT;  // submit(n) lists it n times
  VKDROP_CHECK(vkBeginCommandBuffer(cmd_, &begin));
  if (queries_) {
    vkCmdResetQueryPool(cmd_, queries_, 0, k_max_timestamps);
    vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries_, 0);
  }
  begun_ = true;
}

VkDescriptorSet Recorder::allocate_set(VkDescriptorSetLayout layout) {
  VkDevice device = context_.device();
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!pools_.empty()) {
      VkDescriptorSetAllocateInfo alloc{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
      alloc.descriptorPool = pools_.back();
      alloc.descriptorSetCount = 1;
      alloc.pSetLayouts = &layout;
      VkDescriptorSet set;
      VkResult result = vkAllocateDescriptorSets(device, &alloc, &set);
      if (result == VK_SUCCESS) return set;
      if (result != VK_ERROR_OUT_OF_POOL_MEMORY && result != VK_ERROR_FRAGMENTED_POOL) VKDROP_CHECK(result);
    }
    // A recording holds its sets for its whole life, so pools only grow; a new one when the last is full.
    const VkDescriptorPoolSize sizes[] = {{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, k_sets_per_pool * 8},
                                          {VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER, k_sets_per_pool * 4}};
    VkDescriptorPoolCreateInfo info{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    info.maxSets = k_sets_per_pool;
    info.poolSizeCount = 2;
    info.pPoolSizes = sizes;
    VkDescriptorPool pool;
    VKDROP_CHECK(vkCreateDescriptorPool(device, &info, nullptr, &pool));
    pools_.emplace_back(device, pool);
  }
  throw Error("Could not allocate a descriptor set from a fresh pool.");
}

// A view of the whole texels of `slice` (a trailing part-texel is not in it: the kernel must not need it),
// shared by every dispatch of this recording that binds the same slice the same way.
VkBufferView Recorder::texel_view(const BufferSlice& slice, VkFormat format, uint32_t texel_bytes,
                                  const std::string& what) {
  const uint64_t range = slice.size / texel_bytes * texel_bytes;
  for (const View& v : views_) {
    if (v.slice.buffer == slice.buffer && v.slice.offset == slice.offset && v.slice.size == range &&
        v.format == format)
      return v.view;
  }
  const DeviceInfo& info = context_.info();
  if (slice.offset % info.min_texel_buffer_offset_alignment != 0) {
    throw ArgumentError(fmt::format("{} starts at byte {}, which is not a multiple of {} ({}'s "
                                    "minTexelBufferOffsetAlignment); bind slices the Arena handed out, or sub-slices "
                                    "at multiples of it.", what, slice.offset, info.min_texel_buffer_offset_alignment,
                                    info.name));
  }
  if (range == 0) {
    throw ArgumentError(fmt::format("{} is {} bytes, less than one {}-byte texel.", what, slice.size, texel_bytes));
  }
  if (range / texel_bytes > info.max_texel_buffer_elements) {
    throw ArgumentError(fmt::format("{} holds {} texels; {} allows {} in one texel buffer. Split the tensor.", what,
                                    range / texel_bytes, info.name, info.max_texel_buffer_elements));
  }
  VkBufferViewCreateInfo view_info{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
  view_info.buffer = slice.buffer;
  view_info.format = format;
  view_info.offset = slice.offset;
  view_info.range = range;
  VkBufferView view;
  VKDROP_CHECK(vkCreateBufferView(context_.device(), &view_info, nullptr, &view));
  views_.push_back(View{BufferSlice{slice.buffer, slice.offset, range}, format,
                        UniqueBufferView(context_.device(), view)});
  return view;
}

// Emits one barrier when an access conflicts with a range touched since the last barrier.
void Recorder::order_after_hazards(std::span<const Access> accesses, uint32_t stage) {
  bool hazard = false;
  for (const Access& now : accesses) {
    for (const Access& before : since_barrier_) {
      if ((now.write || before.write) && now.range.overlaps(before.range)) {
        hazard = true;
        break;
      }
    }
    if (hazard) break;
  }
  if (hazard) {
    // Read-after-write, write-after-write or write-after-read between dispatches/copies.
    // Each access mask names only what its stages can do (compute: shader access; transfer: copies).
    auto writes_of = [](uint32_t stages) {
      return ((stages & k_compute) ? VkAccessFlags{VK_ACCESS_SHADER_WRITE_BIT} : 0u) |
             ((stages & k_transfer) ? VkAccessFlags{VK_ACCESS_TRANSFER_WRITE_BIT} : 0u);
    };
    auto accesses_of = [&](uint32_t stages) {
      return writes_of(stages) | ((stages & k_compute) ? VkAccessFlags{VK_ACCESS_SHADER_READ_BIT} : 0u) |
             ((stages & k_transfer) ? VkAccessFlags{VK_ACCESS_TRANSFER_READ_BIT} : 0u);
    };
    // The barrier forgets what came before it, so it must cover every later command that could touch the
    // same bytes, not just this one: a copy after a dispatch-to-dispatch barrier may read what a dispatch
    // before that barrier wrote. Its destination is therefore both stages.
    VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    barrier.srcAccessMask = writes_of(stages_since_barrier_);
    barrier.dstAccessMask = accesses_of(k_compute | k_transfer);
    vkCmdPipelineBarrier(cmd_, stages_since_barrier_, k_compute | k_transfer, 0, 1, &barrier, 0, nullptr, 0, nullptr);
    ++barriers_;
    since_barrier_.clear();
    stages_since_barrier_ = 0;
  }
  since_barrier_.insert(since_barrier_.end(), accesses.begin(), accesses.end());
  stages_since_barrier_ |= stage;
}

void Recorder::dispatch_bytes(const Kernel& kernel, std::span<const BufferSlice> buffers, const void* push,
                              size_t push_bytes, std::array<uint32_t, 3> groups, const std::string& label) {
  if (finished_) throw ArgumentError("Recorder::dispatch after finish(): record into a new Recorder.");
  const ShaderInterface& iface = kernel.interface();
  const std::string what = label.empty() ? kernel.name() : fmt::format("{} ({})", label, kernel.name());
  if (buffers.size() != iface.bindings.size()) {
    throw ArgumentError(fmt::format("{}: the shader has {} buffer bindings, {} buffers were given.", what,
                                    iface.bindings.size(), buffers.size()));
  }
  if (push_bytes != iface.push_constant_bytes) {
    throw ArgumentError(fmt::format("{}: the shader's push constants are {} bytes, the C++ struct is {}; keep "
                                    "them in step.", what, iface.push_constant_bytes, push_bytes));
  }
  const auto& max_groups = context_.info().max_workgroup_count;
  for (int d = 0; d < 3; ++d) {
    if (groups[d] > max_groups[d]) {
      throw ArgumentError(fmt::format("{}: {} workgroups in dimension {} exceed the device's limit of {}.", what,
                                      groups[d], d, max_groups[d]));
    }
  }
  if (groups[0] == 0 || groups[1] == 0 || groups[2] == 0) return;  // no work: nothing to record
  for (size_t i = 0; i < buffers.size(); ++i) {
    if (buffers[i].empty()) {
      throw ArgumentError(fmt::format("{}: buffer '{}' (binding {}) is empty but the dispatch has work.", what,
                                      iface.bindings[i].name, i));
    }
  }

  begin_if_needed();

  std::vector<Access> accesses;
  for (size_t i = 0; i < buffers.size(); ++i) {
    const ShaderBinding& b = iface.bindings[i];
    accesses.push_back(Access{buffers[i], b.writes});
  }
  order_after_hazards(accesses, k_compute);

  VkDescriptorSet set = allocate_set(kernel.set_layout());
  std::vector<VkDescriptorBufferInfo> infos(buffers.size());
  std::vector<VkBufferView> views(buffers.size());
  std::vector<VkWriteDescriptorSet> writes(buffers.size());
  for (size_t i = 0; i < buffers.size(); ++i) {
    const ShaderBinding& b = iface.bindings[i];
    writes[i] = VkWriteDescriptorSet{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[i].dstSet = set;
    writes[i].dstBinding = static_cast<uint32_t>(i);
    writes[i].descriptorCount = 1;
    if (b.texel_buffer()) {
      const VkFormat format = b.texel_components == 1 ? (b.texel_uint ? VK_FORMAT_R32_UINT : VK_FORMAT_R32_SFLOAT)
                                                      : (b.texel_uint ? VK_FORMAT_R32G32B32A32_UINT
                                                                      : VK_FORMAT_R32G32B32A32_SFLOAT);
      views[i] = texel_view(buffers[i], format, b.texel_components * 4,
                            fmt::format("{}: texel buffer '{}' (binding {})", what, b.name, i));
      writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER;
      writes[i].pTexelBufferView = &views[i];
    } else {
      infos[i] = VkDescriptorBufferInfo{buffers[i].buffer, buffers[i].offset, buffers[i].size};
      writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      writes[i].pBufferInfo = &infos[i];
    }
  }
  vkUpdateDescriptorSets(context_.device(), static_cast<uint32_t>(writes.size()), writes.data(), 0, nullptr);

  vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, kernel.pipeline());
  vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, kernel.layout(), 0, 1, &set, 0, nullptr);
  if (push_bytes > 0)
    vkCmdPushConstants(cmd_, kernel.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, static_cast<uint32_t>(push_bytes), push);
  vkCmdDispatch(cmd_, groups[0], groups[1], groups[2]);
  labels_.push_back(label.empty() ? kernel.name() : label);
  if (queries_ && labels_.size() < k_max_timestamps)
    vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, queries_, static_cast<uint32_t>(labels_.size()));
}

void Recorder::copy(const BufferSlice& src, const BufferSlice& dst) {
  if (src.size != dst.size) {
    throw ArgumentError(fmt::format("Recorder::copy: source is {} bytes, destination {}.", src.size, dst.size));
  }
  if (src.empty()) return;
  begin_if_needed();
  const Access accesses[] = {{src, false}, {dst, true}};
  order_after_hazards(accesses, k_transfer);
  VkBufferCopy region{src.offset, dst.offset, src.size};
  vkCmdCopyBuffer(cmd_, src.buffer, dst.buffer, 1, &region);
}

void Recorder::fill(const BufferSlice& dst, uint32_t word) {
  if (dst.empty()) return;
  if (dst.size % 4 != 0 || dst.offset % 4 != 0) {
    throw ArgumentError(fmt::format("Recorder::fill: slice of {} bytes at offset {} is not 4-byte aligned.",
                                    dst.size, dst.offset));
  }
  begin_if_needed();
  const Access accesses[] = {{dst, true}};
  order_after_hazards(accesses, k_transfer);
  vkCmdFillBuffer(cmd_, dst.buffer, dst.offset, dst.size, word);
}

void Recorder::finish() {
  if (finished_) return;
  begin_if_needed();  // an empty recording is still a valid command buffer to submit
  // Make this recording's writes visible to whatever comes next on the queue (the next replay of this
  // or another recording, a transfer) and to the host.
  VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  barrier.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                          VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(cmd_, k_compute | k_transfer, k_compute | k_transfer | VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                       &barrier, 0, nullptr, 0, nullptr);
  VKDROP_CHECK(vkEndCommandBuffer(cmd_));
  since_barrier_.clear();
  finished_ = true;
}

void Recorder::submit(uint32_t times) {
  if (!finished_) finish();
  if (times == 0) return;
  if (in_flight_ == fences_.size()) wait_oldest();
  const UniqueFence& fence = fences_[submitted_ % fences_.size()];
  VKDROP_CHECK(vkResetFences(context_.device(), 1, fence.ptr()));
  std::vector<VkCommandBuffer> commands(times, cmd_);
  VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  submit.commandBufferCount = times;
  submit.pCommandBuffers = commands.data();
  VkResult result = injected_fault(FaultPoint::submit);
  if (result == VK_SUCCESS) result = vkQueueSubmit(context_.queue(), 1, &submit, fence);
  check(result, "vkQueueSubmit");
  ++submitted_;
  ++in_flight_;
}

void Recorder::wait_oldest() {
  const UniqueFence& fence = fences_[(submitted_ - in_flight_) % fences_.size()];
  wait_for_fence(context_.device(), *fence.ptr());
  --in_flight_;
}

void Recorder::wait() {
  while (in_flight_ > 0) wait_oldest();
}

std::vector<DispatchTiming> Recorder::timings() const {
  std::vector<DispatchTiming> result;
  if (!queries_ || labels_.empty() || in_flight_ > 0) return result;
  const uint32_t count = static_cast<uint32_t>(std::min<size_t>(labels_.size() + 1, k_max_timestamps));
  std::vector<uint64_t> ticks(count);
  VKDROP_CHECK(vkGetQueryPoolResults(context_.device(), queries_, 0, count, count * sizeof(uint64_t), ticks.data(),
                                     sizeof(uint64_t), VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
  const double ns_per_tick = context_.info().timestamp_period_ns;
  for (uint32_t i = 1; i < count; ++i) {
    const uint64_t delta = ticks[i] >= ticks[i - 1] ? ticks[i] - ticks[i - 1] : 0;
    result.push_back(DispatchTiming{labels_[i - 1], static_cast<double>(delta) * ns_per_tick * 1e-6});
  }
  return result;
}

}  // namespace vkdrop

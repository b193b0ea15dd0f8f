#pragma once
// A Recorder is one command buffer, recorded once and replayed many times (Kompute's "Sequence").
//
// Barriers are derived, not written by hand: every kernel knows from its SPIR-V which bindings it reads
// and which it writes (readonly/writeonly in GLSL), and the recorder keeps the byte ranges read and
// written since the last barrier. A dispatch or copy that reads what an earlier one wrote (RAW), or writes
// what an earlier one read or wrote (WAR, WAW), gets exactly one compute/transfer barrier in front of it;
// independent dispatches get none and may overlap. Each recording ends with a barrier that makes its
// writes visible to the next submission and to the host, so replays chain without further thought.
//
// A kernel's texel-buffer bindings (r32f / rgba32f imageBuffer: CPU devices such as lavapipe load those as
// SIMD gathers, where they load a storage buffer one lane at a time) are bound from slices too: the recorder
// makes a buffer view of each slice's whole texels and keeps it as long as the recording.
//
// Nothing about a recording changes between replays: per-step values (the RNG step, the batch position,
// the learning rate) live in device buffers that the recorded kernels themselves advance.

#include <vkdrop/runtime/arena.hpp>
#include <vkdrop/runtime/handle.hpp>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace vkdrop {

class Context;
class Kernel;

struct RecorderOptions {
  bool timestamps = false;  // a GPU timestamp after every dispatch, read back by timings()
  // Submissions of this recording that may be queued at once. 2 lets the host queue the next batch of
  // steps before the current one ends, so the device never waits for the host between them.
  uint32_t max_in_flight = 1;
};

struct DispatchTiming {
  std::string label;    // what the caller named the dispatch, or the kernel name
  double milliseconds;  // time since the previous timestamp (the previous dispatch's end)
};

class Recorder {
 public:
  explicit Recorder(Context& context, RecorderOptions options = {});
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // --- recording ---------------------------------------------------------------------------------
  // Bind `buffers` to bindings 0..n-1 of `kernel` (their count must match the shader's), push
  // `push` (its size must match the shader's push-constant block) and dispatch `groups` workgroups.
  // A dispatch with zero groups records nothing.
  template <typename Push>
  void dispatch(const Kernel& kernel, std::initializer_list<BufferSlice> buffers, const Push& push,
                std::array<uint32_t, 3> groups, const std::string& label = {}) {
    static_assert(std::is_trivially_copyable_v<Push>, "push constants are copied bytewise");
    dispatch_bytes(kernel, std::span<const BufferSlice>(buffers.begin(), buffers.size()), &push, sizeof(Push),
                   groups, label);
  }
  void dispatch(const Kernel& kernel, std::initializer_list<BufferSlice> buffers, std::array<uint32_t, 3> groups,
                const std::string& label = {}) {
    dispatch_bytes(kernel, std::span<const BufferSlice>(buffers.begin(), buffers.size()), nullptr, 0, groups, label);
  }
  void dispatch_bytes(const Kernel& kernel, std::span<const BufferSlice> buffers, const void* push,
                      size_t push_bytes, std::array<uint32_t, 3> groups, const std::string& label);
  void copy(const BufferSlice& src, const BufferSlice& dst);  // sizes must match
  void fill(const BufferSlice& dst, uint32_t word);           // every 32-bit word of dst = word
  void finish();  // ends recording; afterwards the recorder can only be submitted

  // --- replay ------------------------------------------------------------------------------------
  // Queue the recording `times` times in one submission and return without waiting. When
  // max_in_flight submissions are still running, waits first for the oldest. Submissions on the queue
  // run in order: each replay sees the previous one's writes.
  void submit(uint32_t times = 1);
  void wait();  // blocks until every submission has finished
  void run(uint32_t times = 1) {
    submit(times);
    wait();
  }
  Context& context() const { return context_; }
  bool finished() const { return finished_; }
  bool pending() const { return in_flight_ > 0; }

  size_t dispatch_count() const { return labels_.size(); }
  // The label of each dispatch recorded so far, in order.
  const std::vector<std::string>& dispatch_labels() const { return labels_; }
  size_t barrier_count() const { return barriers_; }
  // GPU time of each dispatch in the last finished submission (needs RecorderOptions::timestamps).
  std::vector<DispatchTiming> timings() const;

 private:
  struct Access {
    BufferSlice range;
    bool write;
  };
  void begin_if_needed();
  void order_after_hazards(std::span<const Access> accesses, uint32_t stage);
  VkDescriptorSet allocate_set(VkDescriptorSetLayout layout);
  VkBufferView texel_view(const BufferSlice& slice, VkFormat format, uint32_t texel_bytes, const std::string& what);

  Context& context_;
  RecorderOptions options_;
  UniqueCommandBuffer cmd_;  // freed after the destructor has waited for every submission of it
  std::vector<UniqueDescriptorPool> pools_;
  struct View {
    BufferSlice slice;
    VkFormat format;
    UniqueBufferView view;
  };
  std::vector<View> views_;  // texel-buffer views the recording's descriptor sets refer to
  UniqueQueryPool queries_;
  std::vector<UniqueFence> fences_;  // a ring: submission i signals fences_[i % max_in_flight]
  uint64_t submitted_ = 0;            // submissions so far
  uint32_t in_flight_ = 0;            // of which the last in_flight_ may still run
  std::vector<Access> since_barrier_;  // ranges touched since the last barrier
  uint32_t stages_since_barrier_ = 0;  // pipeline stages that touched them
  std::vector<std::string> labels_;
  size_t barriers_ = 0;
  bool begun_ = false;
  bool finished_ = false;
  void wait_oldest();
};

}  // namespace vkdrop

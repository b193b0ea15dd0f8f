#pragma once
// Runs an epoch of a recorded training step in chunks of steps: two chunks in flight, and while the device
// runs chunk k+1 the host reads what chunk k's report copied into its own host-visible slot (running
// totals, first non-finite step, status). The device never waits for the host, and the host never reads a
// slot the device is writing.

#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/runtime/host_buffer.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/train/programs.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>

namespace vkdrop {

// What a chunk of training steps leaves for the host, copied into a host-visible slot after the chunk.
struct ChunkReport {
  float totals[4];        // DatasetCursor::totals: loss sum, correct count, samples, 0
  uint32_t first_bad[2];  // DeviceCounters::first_bad
  uint32_t status;        // DeviceCounters::status
  uint32_t padding;

  bool diverged() const { return first_bad[0] != 0 || first_bad[1] != 0; }
  uint64_t first_bad_step() const { return (uint64_t(first_bad[1]) << 32 | first_bad[0]) - 1; }
  bool label_out_of_range() const { return (status & 1u) != 0; }
};
static_assert(sizeof(ChunkReport) == 32);

class EpochRunner {
 public:
  explicit EpochRunner(Context& context);

  // The two recordings that copy a cursor's totals and the counters into slot 0 and slot 1.
  std::array<std::unique_ptr<Recorder>, 2> record_reports(const DatasetCursor& cursor, const DeviceCounters& counters);

  // Replays `steps` of `step` (with the two `reports`), calling on_chunk(report, steps_done, steps_queued)
  // after each chunk. on_chunk may throw: the steps queued by then are all taken before the exception leaves
  // run(), and however run() is left none of its work is still running.
  void run(Recorder& step, const std::array<std::unique_ptr<Recorder>, 2>& reports, int64_t steps,
              const std::function<void(const ChunkReport&, int64_t steps_done, int64_t steps_queued)>& on_chunk);

  double host_seconds_per_step() const { return host_seconds_per_step_; }

 private:
  Context& context_;
  HostBuffer readback_;  // two ChunkReport slots
  ops::ChunkTuning tuning_;
  double host_seconds_per_step_ = 0;
};

}  // namespace vkdrop

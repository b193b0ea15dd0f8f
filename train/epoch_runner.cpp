#include <vkdrop/train/epoch_runner.hpp>

#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>

namespace vkdrop {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

EpochRunner::EpochRunner(Context& context)
    : context_(context), readback_(context, 2 * sizeof(ChunkReport)), tuning_(ops::chunk_tuning(context.info())) {}

std::array<std::unique_ptr<Recorder>, 2> EpochRunner::record_reports(const DatasetCursor& cursor,
                                                                      const DeviceCounters& counters) {
  std::array<std::unique_ptr<Recorder>, 2> reports;
  for (size_t slot = 0; slot < 2; ++slot) {
    auto rec = std::make_unique<Recorder>(context_);
    const BufferSlice out = readback_.slice().sub(slot * sizeof(ChunkReport), sizeof(ChunkReport));
    rec->copy(cursor.totals.slice, out.sub(offsetof(ChunkReport, totals), sizeof(ChunkReport::totals)));
    rec->copy(counters.first_bad.slice, out.sub(offsetof(ChunkReport, first_bad), sizeof(ChunkReport::first_bad)));
    rec->copy(counters.status.slice, out.sub(offsetof(ChunkReport, status), sizeof(ChunkReport::status)));
    rec->finish();
    reports[slot] = std::move(rec);
  }
  return reports;
}

void EpochRunner::run(Recorder& step, const std::array<std::unique_ptr<Recorder>, 2>& reports, int64_t steps,
                         const std::function<void(const ChunkReport&, int64_t steps_done, int64_t steps_queued)>& on_chunk) {
  struct Drain {  // however this function is left, none of its work is still running
    std::array<Recorder*, 3> recs;
    ~Drain() {
      for (Recorder* r : recs) {
        try {
          r->wait();
        } catch (const Error&) {  // a lost device: the next call reports it
        }
      }
    }
  } drain{{&step, reports[0].get(), reports[1].get()}};

  const auto start = Clock::now();
  int64_t queued = 0, done = 0, chunk = 1, launched = 0, read = 0;
  std::array<int64_t, 2> ends{};  // steps done when the chunk in each slot has finished
  double submit_seconds = 0;
  auto launch = [&] {
    const int64_t n = std::min(chunk, steps - queued);
    const auto t0 = Clock::now();
    step.submit(static_cast<uint32_t>(n));
    reports[static_cast<size_t>(launched % 2)]->submit();
    submit_seconds += seconds_since(t0);
    queued += n;
    ends[static_cast<size_t>(launched % 2)] = queued;
    ++launched;
  };
  launch();
  while (done < steps) {
    if (queued < steps) launch();
    const size_t slot = static_cast<size_t>(read % 2);
    reports[slot]->wait();
    ++read;
    done = ends[slot];
    ChunkReport report;
    readback_.read(slot * sizeof(ChunkReport), &report, 1);
    try {
      on_chunk(report, done, queued);
    } catch (...) {
      step.wait();  // the next chunk ran on: its steps were taken too
      host_seconds_per_step_ = submit_seconds / static_cast<double>(std::max<int64_t>(done, 1));
      throw;
    }
    // Size the next chunks to keep the device busy for a while between host reads.
    const double per_step = seconds_since(start) / static_cast<double>(done);
    chunk = std::clamp<int64_t>(static_cast<int64_t>(tuning_.seconds_per_chunk / std::max(per_step, 1e-6)), 1,
                                tuning_.max_steps_per_chunk);
  }
  host_seconds_per_step_ = submit_seconds / static_cast<double>(steps);
}

}  // namespace vkdrop

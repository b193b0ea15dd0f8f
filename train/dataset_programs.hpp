#pragma once
// The programs a Model has recorded for the data sets it has seen, and the cursors they walk them with.
//
// A recording binds its data set's buffers, so it must not outlive the data set: each entry watches its
// DeviceDataset's lifetime and is dropped (recordings, cursor and the cursor's own small arena) the next
// time the cache is used after the data set is gone. The Model's arena never grows for a new data set.

#include <vkdrop/datasets/device_dataset.hpp>
#include <vkdrop/runtime/arena.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>

namespace vkdrop {

// Where a program walks a data set: its order, the position of the next batch and the running sums.
struct DatasetCursor {
  Tensor order;     // (count) u32
  Tensor position;  // (2) u32
  Tensor totals;    // (4) f32: Σ loss, Σ correct, rows, 0
};

struct DatasetProgram {
  DatasetProgram(Context& context, const DeviceDataset& data);
  std::weak_ptr<const void> alive;  // the data set's lifetime
  Arena arena;                      // the cursor's memory, freed with the entry
  DatasetCursor cursor;
  std::unique_ptr<Recorder> recording;
  std::array<std::unique_ptr<Recorder>, 2> reports;  // training only: copy the totals into readback slot 0 / 1
};

class DatasetPrograms {
 public:
  // The entry for `data`: made by `record` (which fills in the recordings) the first time, and whole or not
  // at all.
  DatasetProgram& get(Context& context, const DeviceDataset& data, const std::function<void(DatasetProgram&)>& record);
  // Drops the entries of data sets that no longer exist.
  void drop_expired();
  size_t size() const { return entries_.size(); }

 private:
  std::map<uint64_t, std::unique_ptr<DatasetProgram>> entries_;  // by DeviceDataset::id()
};

}  // namespace vkdrop

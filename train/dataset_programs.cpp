#include <vkdrop/train/dataset_programs.hpp>

#include <vkdrop/runtime/context.hpp>

#include <fmt/format.h>

namespace vkdrop {

DatasetProgram::DatasetProgram(Context& context, const DeviceDataset& data)
    : alive(data.lifetime()), arena(context, 1ull << 20) {
  cursor.order = make_tensor(arena, {data.count()}, DType::u32, fmt::format("{} order", data.name()));
  cursor.position = make_tensor(arena, {2}, DType::u32, fmt::format("{} position", data.name()));
  cursor.totals = make_tensor(arena, {4}, DType::f32, fmt::format("{} totals", data.name()));
}

DatasetProgram& DatasetPrograms::get(Context& context, const DeviceDataset& data,
                                     const std::function<void(DatasetProgram&)>& record) {
  std::unique_ptr<DatasetProgram>& slot = entries_[data.id()];
  if (!slot) {
    try {
      auto made = std::make_unique<DatasetProgram>(context, data);
      record(*made);
      slot = std::move(made);
    } catch (...) {
      entries_.erase(data.id());
      throw;
    }
  }
  return *slot;
}

void DatasetPrograms::drop_expired() {
  std::erase_if(entries_, [](const auto& entry) { return entry.second->alive.expired(); });
}

}  // namespace vkdrop

#pragma once
// A buffer the host reads and writes directly: host-visible, coherent, mapped for its whole life.
//
// It is the staging buffer that uploads and downloads pass through, and the place the device copies
// small results into (a training step's running loss) for the host to read while later work runs.
// Reading it is only meaningful after the submission that wrote it has finished (its fence).

#include <vkdrop/runtime/arena.hpp>
#include <vkdrop/runtime/handle.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vkdrop {

class Context;

class HostBuffer {
 public:
  // `bytes` > 0. Usable as a transfer source and destination and as a storage buffer.
  HostBuffer(Context& context, uint64_t bytes);
  ~HostBuffer();
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;

  BufferSlice slice() const { return BufferSlice{buffer_, 0, size_}; }
  std::byte* data() const { return static_cast<std::byte*>(mapped_); }
  uint64_t size() const { return size_; }

  // `count` values of T starting `byte_offset` bytes in (bounds-checked).
  template <typename T>
  void read(uint64_t byte_offset, T* out, size_t count) const {
    check_range(byte_offset, count * sizeof(T));
    std::memcpy(out, data() + byte_offset, count * sizeof(T));
  }

 private:
  void check_range(uint64_t offset, uint64_t bytes) const;

  VkDevice device_;
  UniqueBuffer buffer_;
  UniqueMemory memory_;
  void* mapped_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace vkdrop

#pragma once
// One arena per model: a few large device-local VkBuffers (each with its own VkDeviceMemory), from which
// every tensor is a slice at an aligned offset. No tensor ever owns an allocation (llm.c keeps all its
// parameters in one malloc for the same reasons: one place to size, to free and to checkpoint).
//
// Slices are bound to shaders as (buffer, offset, range); a device's maxStorageBufferRange (128 MiB on
// lavapipe) caps one slice, not the arena.

#include <vkdrop/runtime/handle.hpp>

#include <vulkan/vulkan.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vkdrop {

class Context;

// A byte range of a device buffer. Empty (size 0) slices are legal and bind nothing.
struct BufferSlice {
  VkBuffer buffer = VK_NULL_HANDLE;
  uint64_t offset = 0;
  uint64_t size = 0;

  bool empty() const { return size == 0; }
  // The sub-range [offset, offset + size) of this slice, in bytes relative to its start.
  BufferSlice sub(uint64_t byte_offset, uint64_t byte_size) const;
  bool overlaps(const BufferSlice& other) const {
    return buffer == other.buffer && offset < other.offset + other.size && other.offset < offset + size;
  }
};

class Arena {
 public:
  // Blocks are `block_bytes` large (or larger, for one allocation that does not fit).
  explicit Arena(Context& context, uint64_t block_bytes = 64ull << 20);
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  Arena(Arena&&) noexcept = default;
  Arena& operator=(Arena&&) noexcept = default;

  // `bytes` at an offset aligned to max(alignment, DeviceInfo::binding_offset_alignment()). `what` names the
  // tensor in error messages. Throws ArgumentError if one slice would exceed maxStorageBufferRange.
  BufferSlice allocate(uint64_t bytes, const std::string& what, uint64_t alignment = 16);

  uint64_t bytes_used() const { return used_; }          // sum of the slices handed out
  uint64_t bytes_reserved() const { return reserved_; }  // sum of the blocks allocated from the device
  size_t block_count() const { return blocks_.size(); }
  Context& context() const { return *context_; }

 private:
  struct Block {
    UniqueBuffer buffer;
    UniqueMemory memory;
    uint64_t size = 0;
    uint64_t next = 0;  // first free byte
  };
  Block& add_block(uint64_t min_bytes);

  Context* context_;
  uint64_t block_bytes_;
  uint64_t used_ = 0;
  uint64_t reserved_ = 0;
  std::vector<Block> blocks_;
};

}  // namespace vkdrop

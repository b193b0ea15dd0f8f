#include <vkdrop/runtime/arena.hpp>

#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/faults.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace vkdrop {

BufferSlice BufferSlice::sub(uint64_t byte_offset, uint64_t byte_size) const {
  if (byte_offset + byte_size > size) {
    throw ArgumentError(fmt::format("Sub-slice [{}, {}) is outside a slice of {} bytes.", byte_offset,
                                    byte_offset + byte_size, size));
  }
  return BufferSlice{buffer, offset + byte_offset, byte_size};
}

Arena::Arena(Context& context, uint64_t block_bytes) : context_(&context), block_bytes_(block_bytes) {}

Arena::Block& Arena::add_block(uint64_t min_bytes) {
  VkDevice device = context_->device();
  Block block;
  block.size = std::max(block_bytes_, min_bytes);
  VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  info.size = block.size;
  // Kernels read tensors through storage buffers or through storage texel buffers (views the Recorder makes).
  info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_STORAGE_TEXEL_BUFFER_BIT |
               VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkBuffer buffer;
  VKDROP_CHECK(vkCreateBuffer(device, &info, nullptr, &buffer));
  block.buffer = UniqueBuffer(device, buffer);
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device, buffer, &req);
  VkMemoryAllocateInfo alloc{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  alloc.allocationSize = req.size;
  alloc.memoryTypeIndex = context_->device_memory_type(req.memoryTypeBits);
  VkDeviceMemory memory;
  VkResult result = injected_fault(FaultPoint::allocate);
  if (result == VK_SUCCESS) result = vkAllocateMemory(device, &alloc, nullptr, &memory);
  if (result != VK_SUCCESS) {
    throw VulkanError(result, fmt::format("Could not allocate an arena block of {:.1f} MiB on {} ({}); the arena "
                                          "already holds {:.1f} MiB. Use a smaller model or batch.",
                                          static_cast<double>(req.size) / (1 << 20), context_->info().name,
                                          result_name(result), static_cast<double>(reserved_) / (1 << 20)));
  }
  block.memory = UniqueMemory(device, memory);
  VKDROP_CHECK(vkBindBufferMemory(device, buffer, memory, 0));
  reserved_ += block.size;
  blocks_.push_back(std::move(block));
  return blocks_.back();
}

BufferSlice Arena::allocate(uint64_t bytes, const std::string& what, uint64_t alignment) {
  const uint64_t limit = context_->info().max_storage_buffer_range;
  if (bytes > limit) {
    throw ArgumentError(fmt::format("{} needs {} bytes, more than one storage-buffer binding may cover on {} "
                                    "(maxStorageBufferRange = {} bytes). Split it into smaller tensors.",
                                    what, bytes, context_->info().name, limit));
  }
  if (bytes == 0) return BufferSlice{};
  const uint64_t align = std::max<uint64_t>(alignment, context_->info().binding_offset_alignment());
  auto aligned = [align](uint64_t x) { return (x + align - 1) / align * align; };
  Block* target = nullptr;
  for (Block& block : blocks_) {
    if (aligned(block.next) + bytes <= block.size) {
      target = &block;
      break;
    }
  }
  if (target == nullptr) target = &add_block(bytes);
  const uint64_t offset = aligned(target->next);
  target->next = offset + bytes;
  used_ += bytes;
  return BufferSlice{target->buffer, offset, bytes};
}

}  // namespace vkdrop

#include <vkdrop/runtime/host_buffer.hpp>

#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/faults.hpp>

#include <fmt/format.h>

namespace vkdrop {

HostBuffer::HostBuffer(Context& context, uint64_t bytes) : device_(context.device()), size_(bytes) {
  if (bytes == 0) throw ArgumentError("HostBuffer: size must be positive");
  VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  info.size = bytes;
  info.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
               VK_BUFFER_USAGE_STORAGE_TEXEL_BUFFER_BIT;
  info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkBuffer buffer;
  VKDROP_CHECK(vkCreateBuffer(device_, &info, nullptr, &buffer));
  buffer_ = UniqueBuffer(device_, buffer);
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device_, buffer, &req);
  VkMemoryAllocateInfo alloc{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  alloc.allocationSize = req.size;
  alloc.memoryTypeIndex = context.staging_memory_type(req.memoryTypeBits, /*readback=*/true);
  VkDeviceMemory memory;
  VkResult result = injected_fault(FaultPoint::allocate);
  if (result == VK_SUCCESS) result = vkAllocateMemory(device_, &alloc, nullptr, &memory);
  if (result != VK_SUCCESS) {
    throw VulkanError(result, fmt::format("Could not allocate {:.1f} MiB of host-visible memory on {} ({}).",
                                          static_cast<double>(req.size) / (1 << 20), context.info().name,
                                          result_name(result)));
  }
  memory_ = UniqueMemory(device_, memory);
  VKDROP_CHECK(vkBindBufferMemory(device_, buffer, memory, 0));
  VKDROP_CHECK(vkMapMemory(device_, memory, 0, VK_WHOLE_SIZE, 0, &mapped_));
}

HostBuffer::~HostBuffer() {
  if (mapped_) vkUnmapMemory(device_, memory_);
}

void HostBuffer::check_range(uint64_t offset, uint64_t bytes) const {
  if (offset > size_ || bytes > size_ - offset) {
    throw ArgumentError(fmt::format("HostBuffer: {} bytes at offset {} run past its {} bytes", bytes, offset, size_));
  }
}

}  // namespace vkdrop

#pragma once
// The pipeline cache a Context starts from (runtime/context.cpp), as a function of its own so that
// tests/fuzz/fuzz_pipeline_cache.cpp can give it any bytes.

#include <vkdrop/runtime/handle.hpp>

#include <vulkan/vulkan.h>

#include <filesystem>

namespace vkdrop {

// A pipeline cache from the bytes of the cache file at `path` (empty when there is no file), handed to the
// driver as they are. vkdrop does not look inside them: the driver checks their header (length, version,
// vendor, device and pipeline-cache UUID) and starts empty on data that is not its own.
UniquePipelineCache load_pipeline_cache(VkDevice device, const std::filesystem::path& path);

}  // namespace vkdrop

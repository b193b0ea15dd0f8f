#pragma once
// What a real device does when it fails, on demand: lavapipe never loses its device, runs out of memory
// at a chosen moment or hangs, so the paths that handle those faults are tested by injecting them here.
//
//   VKDROP_FAULT=submit:N     the Nth queue submission fails with VK_ERROR_DEVICE_LOST
//   VKDROP_FAULT=wait:N       the Nth wait for a submission times out (a device that never finishes)
//   VKDROP_FAULT=allocate:N   the Nth device-memory allocation fails with VK_ERROR_OUT_OF_DEVICE_MEMORY
// (N counted from the start of the process, or from arm_fault in a test). Without the variable, nothing is
// injected and each point costs one relaxed atomic load.
//
// Waits for a submission have a deadline: VKDROP_FENCE_TIMEOUT_S seconds (default 600, far beyond any one
// submission vkdrop makes: training submits chunks of about a quarter second), after which the wait ends
// with a VulkanError(VK_TIMEOUT) instead of blocking forever.

#include <vulkan/vulkan.h>

#include <cstdint>

namespace vkdrop {

enum class FaultPoint { submit, wait, allocate };

// The Nth call at `point` from now (n >= 1) fails; replaces any fault armed before (tests).
void arm_fault(FaultPoint point, uint64_t n);
void disarm_faults();

// VK_SUCCESS, or the result the armed fault makes this call return. Called once per call at `point`.
VkResult injected_fault(FaultPoint point);

// The deadline of a wait for a submission, in nanoseconds (VKDROP_FENCE_TIMEOUT_S).
uint64_t fence_timeout_ns();

// vkWaitForFences on one fence with that deadline; a timeout (or an injected one) throws VulkanError with
// VK_TIMEOUT saying what to do, any other failure (VK_ERROR_DEVICE_LOST) the usual VulkanError.
void wait_for_fence(VkDevice device, VkFence fence);

}  // namespace vkdrop

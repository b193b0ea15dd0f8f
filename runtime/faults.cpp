#include <vkdrop/runtime/faults.hpp>

#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>

namespace vkdrop {

namespace {

struct Armed {
  std::atomic<bool> any{false};
  std::mutex mutex;
  FaultPoint point = FaultPoint::submit;
  uint64_t remaining = 0;  // calls at `point` until the fault, counting the failing one
};

Armed& armed() {
  static Armed a;
  return a;
}

// VKDROP_FAULT, read once: "submit:N", "wait:N" or "allocate:N". A malformed value is an error, not ignored,
// so a test that means to inject a fault cannot silently run without one.
void arm_from_environment() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* text = std::getenv("VKDROP_FAULT");
    if (text == nullptr || *text == '\0') return;
    const std::string_view value(text);
    const size_t colon = value.find(':');
    const std::string_view name = value.substr(0, colon);
    uint64_t n = 0;
    const char* digits = colon == std::string_view::npos ? text + value.size() : text + colon + 1;
    const auto [end, ec] = std::from_chars(digits, text + value.size(), n);
    const bool number = colon != std::string_view::npos && ec == std::errc{} && end == text + value.size() && n >= 1;
    FaultPoint point{};
    if (name == "submit") {
      point = FaultPoint::submit;
    } else if (name == "wait") {
      point = FaultPoint::wait;
    } else if (name == "allocate") {
      point = FaultPoint::allocate;
    } else {
      throw ArgumentError(fmt::format("VKDROP_FAULT={}: expected submit:N, wait:N or allocate:N (N >= 1)", value));
    }
    if (!number) throw ArgumentError(fmt::format("VKDROP_FAULT={}: N must be a whole number >= 1", value));
    arm_fault(point, n);
  });
}

}  // namespace

void arm_fault(FaultPoint point, uint64_t n) {
  Armed& a = armed();
  std::lock_guard lock(a.mutex);
  a.point = point;
  a.remaining = n;
  a.any.store(n > 0, std::memory_order_relaxed);
}

void disarm_faults() { arm_fault(FaultPoint::submit, 0); }

VkResult injected_fault(FaultPoint point) {
  arm_from_environment();
  Armed& a = armed();
  if (!a.any.load(std::memory_order_relaxed)) return VK_SUCCESS;
  std::lock_guard lock(a.mutex);
  if (a.remaining == 0 || a.point != point || --a.remaining > 0) return VK_SUCCESS;
  a.any.store(false, std::memory_order_relaxed);
  switch (point) {
    case FaultPoint::submit:
      return VK_ERROR_DEVICE_LOST;
    case FaultPoint::wait:
      return VK_TIMEOUT;
    case FaultPoint::allocate:
      return VK_ERROR_OUT_OF_DEVICE_MEMORY;
  }
  return VK_SUCCESS;
}

uint64_t fence_timeout_ns() {
  static const uint64_t ns = [] {
    double seconds = 600;
    if (const char* text = std::getenv("VKDROP_FENCE_TIMEOUT_S"); text != nullptr && *text != '\0') {
      char* end = nullptr;
      seconds = std::strtod(text, &end);
      if (end == text || *end != '\0' || !(seconds > 0) || seconds > 1e9) {
        throw ArgumentError(fmt::format("VKDROP_FENCE_TIMEOUT_S={}: expected a number of seconds > 0", text));
      }
    }
    return static_cast<uint64_t>(seconds * 1e9);
  }();
  return ns;
}

void wait_for_fence(VkDevice device, VkFence fence) {
  VkResult result = vkWaitForFences(device, 1, &fence, VK_TRUE, fence_timeout_ns());
  // An injected timeout is reported after the submission has in fact finished: the callers then free what it
  // used, which a real hang makes unsafe anyway (the driver resets such a device, and it is lost).
  if (result == VK_SUCCESS) result = injected_fault(FaultPoint::wait);
  if (result == VK_TIMEOUT) {
    throw VulkanError(VK_TIMEOUT, fmt::format("The device did not finish a submission within {:.0f} s: it may be hung "
                                              "(a GPU driver may reset it). Set VKDROP_FENCE_TIMEOUT_S to wait longer.",
                                              static_cast<double>(fence_timeout_ns()) * 1e-9));
  }
  check(result, "vkWaitForFences");
}

}  // namespace vkdrop

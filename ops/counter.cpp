#include <vkdrop/ops/counter.hpp>

#include <vkdrop/ops/arguments.hpp>
#include <vkdrop/runtime/context.hpp>

namespace vkdrop::ops {

void counter_add(Recorder& rec, const Tensor& counter, uint32_t amount, const std::string& label) {
  check_counter("counter_add", {"counter", counter});
  struct Params {
    uint32_t index, amount;
  } params{0, amount};
  rec.dispatch(rec.context().kernel("counter_add"), {counter.slice}, params, {1, 1, 1}, label);
}

}  // namespace vkdrop::ops

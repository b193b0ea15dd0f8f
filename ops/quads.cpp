#include <vkdrop/ops/quads.hpp>

namespace vkdrop::ops {

BufferSlice quad_binding(Context& ctx, const BufferSlice& slice) {
  return slice.size >= 4 * sizeof(float) ? slice : ctx.placeholder();
}

}  // namespace vkdrop::ops

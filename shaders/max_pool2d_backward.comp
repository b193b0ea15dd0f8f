#version 450
// Max pooling backward; reference/max_pool2d.hpp (max_pool2d_backward) is its spec. A gather, so no atomics
// and a fixed order: one invocation per input element (grid-stride) visits, in row-major order, the outputs
// whose windows cover it and adds dy of those whose argmax it is. Written (=), 0 where no output chose it.
layout(local_size_x_id = 0) in;  // workgroup size

layout(binding = 0, r32f) readonly uniform imageBuffer DY;      // (planes, OH, OW)
layout(binding = 1, r32ui) readonly uniform uimageBuffer Argmax;  // (planes, OH, OW): the forward's choices
layout(binding = 2) writeonly buffer DX { float dx[]; };     // (planes, H, W)
layout(push_constant) uniform Params {
  uint inputs;  // planes * H * W
  uint H, W, OH, OW;
  uint kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
};

// The outputs [first, last) whose windows cover input row (or column) i, as ref::pool_covering.
uvec2 covering(uint i, uint out_count, uint kernel, uint stride, uint pad) {
  const int low = int(i + pad) - int(kernel) + 1;
  const uint first = low <= 0 ? 0u : (uint(low) + stride - 1u) / stride;
  return uvec2(first, min((i + pad) / stride + 1u, out_count));
}

void main() {
  const uint count = inputs, h = H, w = W, oh_count = OH, ow_count = OW;
  const uint kh = kernel_h, kw = kernel_w, sh = stride_h, sw = stride_w, ph = pad_h, pw = pad_w;
  for (uint i = gl_GlobalInvocationID.x; i < count; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    const uint iw = i % w;
    const uint ih = (i / w) % h;
    const uint plane = i / (w * h);
    const uvec2 rows = covering(ih, oh_count, kh, sh, ph);
    const uvec2 cols = covering(iw, ow_count, kw, sw, pw);
    const uint me = ih * w + iw, base = plane * oh_count * ow_count;
    float sum = 0.0;
    for (uint oh = rows.x; oh < rows.y; ++oh) {
      for (uint ow = cols.x; ow < cols.y; ++ow) {
        const uint o = base + oh * ow_count + ow;
        if (imageLoad(Argmax, int(o)).x == me) sum += imageLoad(DY, int(o)).x;
      }
    }
    dx[i] = sum;
  }
}

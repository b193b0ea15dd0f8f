#version 450
// Average pooling (torch.nn.AvgPool2d, ceil_mode=False, count_include_pad=True), forward and backward in one
// shader; reference/avg_pool2d.hpp is its spec. Padding counts as zeros inside every window, so every output
// divides by kernel_h * kernel_w.
//   forward:  one invocation per output (grid-stride): y = (the sum of its window's elements) / divisor.
//   backward: one invocation per input element (grid-stride), a gather in a fixed order, no atomics:
//             dx = the sum of dy / divisor over the outputs whose windows cover it (0 if none), as PyTorch
//             spreads grad_output / divisor.
layout(local_size_x_id = 0) in;                   // workgroup size
layout(constant_id = 1) const uint BACKWARD = 0;  // 0: forward, 1: backward

layout(binding = 0, r32f) readonly uniform imageBuffer In;    // forward x (planes, H, W); backward dy (planes, OH, OW)
layout(binding = 1) writeonly buffer Out { float o[]; };  // forward y (planes, OH, OW); backward dx (planes, H, W)
layout(push_constant) uniform Params {
  uint count;  // forward: planes * OH * OW outputs; backward: planes * H * W inputs
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
  // Push constants are read once, outside the loop (inside it, llvmpipe gathers them per lane).
  const uint n = count, h = H, w = W, oh_count = OH, ow_count = OW;
  const uint kh = kernel_h, kw = kernel_w, sh = stride_h, sw = stride_w, ph = pad_h, pw = pad_w;
  const float divisor = float(kh * kw);
  for (uint i = gl_GlobalInvocationID.x; i < n; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    float sum = 0.0;
    if (BACKWARD == 0) {
      const uint ow = i % ow_count, oh = (i / ow_count) % oh_count, plane = i / (ow_count * oh_count);
      const int h_start = int(oh * sh) - int(ph), w_start = int(ow * sw) - int(pw);
      const uint h0 = uint(max(h_start, 0)), h1 = uint(min(h_start + int(kh), int(h)));
      const uint w0 = uint(max(w_start, 0)), w1 = uint(min(w_start + int(kw), int(w)));
      const uint base = plane * h * w;
      for (uint ih = h0; ih < h1; ++ih) {
        for (uint iw = w0; iw < w1; ++iw) sum += imageLoad(In, int(base + ih * w + iw)).x;
      }
      o[i] = sum / divisor;
    } else {
      const uint iw = i % w, ih = (i / w) % h, plane = i / (w * h);
      const uvec2 rows = covering(ih, oh_count, kh, sh, ph), cols = covering(iw, ow_count, kw, sw, pw);
      const uint base = plane * oh_count * ow_count;
      for (uint oh = rows.x; oh < rows.y; ++oh) {
        for (uint ow = cols.x; ow < cols.y; ++ow) sum += imageLoad(In, int(base + oh * ow_count + ow)).x / divisor;
      }
      o[i] = sum;
    }
  }
}

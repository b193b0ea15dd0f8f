#version 450
// One batch from a dataset resident on the device as bytes: x[r] = images[order[pos + r]] * scale (f32),
// labels_out[r] = labels[order[pos + r]] (i32). Rows past the end of the data (pos + r >= count: the
// padded last batch of an evaluation) repeat the first sample; mask_rows.comp removes them from the metrics.
//
// BY_QUADS (features a multiple of four, and images and order each within one texel buffer; ops/batch.cpp):
// each invocation takes a quad of a row, one word of four bytes, read through texel buffers (one gather for
// all lanes on lavapipe, where a storage-buffer load goes lane by lane) and written with one vec4 store.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const bool BY_QUADS = false;

layout(binding = 0) readonly buffer Images { uint images[]; };   // (count, features) bytes, 4 per word
layout(binding = 1) readonly buffer Labels { uint labels[]; };   // (count) bytes, 4 per word
layout(binding = 2) readonly buffer Order { uint order[]; };     // (count): this epoch's permutation
layout(binding = 3) readonly buffer Position { uint pos[]; };    // (2): first sample of this batch
layout(binding = 4) writeonly buffer X { float x[]; };           // (batch, features)
layout(binding = 5) writeonly buffer Y { int y[]; };             // (batch)
layout(binding = 6, r32ui) readonly uniform uimageBuffer ImageWords;  // images' words, read if BY_QUADS
layout(binding = 7, r32ui) readonly uniform uimageBuffer OrderTexels;  // order, read if BY_QUADS
layout(binding = 8) writeonly buffer X4 { vec4 x4[]; };               // (batch, features / 4), if BY_QUADS
layout(push_constant) uniform Params {
  uint count;
  uint features;
  uint batch;
  float scale;  // 1/255: bytes to [0, 1]
};

uint byte_at(uint index, bool label) {
  uint word = label ? labels[index >> 2] : images[index >> 2];
  return (word >> ((index & 3u) * 8u)) & 0xffu;
}

void main() {
  uint total = batch * features;
  uint first = pos[0];
  if (BY_QUADS) {
    const uint n_count = count, words = features >> 2, quads = total >> 2;
    const float factor = scale;
    for (uint q = gl_GlobalInvocationID.x; q < quads; q += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
      const uint r = q / words, f = q - r * words, k = first + r;
      const uint s = imageLoad(OrderTexels, int(k < n_count ? k : 0u)).x;
      const uint word = imageLoad(ImageWords, int(s * words + f)).x;
      x4[q] = vec4(uvec4(word, word >> 8u, word >> 16u, word >> 24u) & 0xffu) * factor;
      if (f == 0u) y[r] = int(byte_at(s, true));
    }
    return;
  }
  for (uint i = gl_GlobalInvocationID.x; i < total; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    uint r = i / features;
    uint f = i - r * features;
    uint k = first + r;
    uint s = order[k < count ? k : 0u];
    x[i] = float(byte_at(s * features + f, false)) * scale;
    if (f == 0u) y[r] = int(byte_at(s, true));
  }
}

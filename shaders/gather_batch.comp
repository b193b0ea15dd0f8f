#version 450
// One batch from a dataset resident on the device as bytes: x[r] = images[order[pos + r]] * scale (f32),
// labels_out[r] = labels[order[pos + r]] (i32). Rows past the end of the data (pos + r >= count: the
// padded last batch of an evaluation) repeat the first sample; mask_rows.comp removes them from the metrics.
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Images { uint images[]; };   // (count, features) bytes, 4 per word
layout(binding = 1) readonly buffer Labels { uint labels[]; };   // (count) bytes, 4 per word
layout(binding = 2) readonly buffer Order { uint order[]; };     // (count): this epoch's permutation
layout(binding = 3) readonly buffer Position { uint pos[]; };    // (2): first sample of this batch
layout(binding = 4) writeonly buffer X { float x[]; };           // (batch, features)
layout(binding = 5) writeonly buffer Y { int y[]; };             // (batch)
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
  for (uint i = gl_GlobalInvocationID.x; i < total; i += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    uint r = i / features;
    uint f = i - r * features;
    uint k = first + r;
    uint s = order[k < count ? k : 0u];
    x[i] = float(byte_at(s * features + f, false)) * scale;
    if (f == 0u) y[r] = int(byte_at(s, true));
  }
}

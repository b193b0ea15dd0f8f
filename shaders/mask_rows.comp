#version 450
// Zero the per-row loss and correctness of the rows of a padded last batch (pos + r >= count), so the
// running metrics count every sample exactly once.
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Position { uint pos[]; };  // (2)
layout(binding = 1) buffer RowLoss { float row_loss[]; };       // (batch)
layout(binding = 2) buffer RowCorrect { uint row_correct[]; };  // (batch)
layout(push_constant) uniform Params {
  uint count;
  uint batch;
};

void main() {
  uint r = gl_GlobalInvocationID.x;
  if (r < batch && pos[0] + r >= count) {
    row_loss[r] = 0.0;
    row_correct[r] = 0u;
  }
}

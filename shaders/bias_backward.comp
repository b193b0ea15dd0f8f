#version 450
// db = Σ over rows of dy: the bias gradient of Linear. dy (M, N) row-major, db (N). Written (=), not
// accumulated. Deterministic: the order of summation depends only on M and the workgroup shape.
//
// A workgroup owns COLS consecutive columns and has ROWS invocations per column. Invocation (col, slice)
// sums rows slice, slice + ROWS, ...; neighbouring invocations read neighbouring columns of the same row,
// so every row read is contiguous across the workgroup. The ROWS partial sums of a column are then added
// in shared memory. ROWS = 1 skips shared memory and barriers altogether (ops/elementwise.cpp picks it
// on lavapipe, where it is fastest).
//
// Split rows (ops/elementwise.cpp, when the columns alone leave the device idle): workgroup y sums only rows
// [y * row_chunk, min(M, (y + 1) * row_chunk)) into db at y * out_stride; split_sum.comp then adds the slices
// in order. Unsplit, row_chunk = M and y = 0.
layout(local_size_x_id = 0, local_size_y_id = 1) in;  // (COLS, ROWS); ROWS a power of two

layout(binding = 0, r32f) readonly uniform imageBuffer DY;   // (M, N)
layout(binding = 1) writeonly buffer DB { float db[]; };  // (N)
layout(push_constant) uniform Params {
  uint rows;        // M
  uint cols;        // N
  uint row_chunk;   // rows per workgroup y (M: not split)
  uint out_stride;  // floats between the partial sums of consecutive y
};

shared float partial[gl_WorkGroupSize.y][gl_WorkGroupSize.x];

void main() {
  // Push constants are read once, outside all control flow (inside it, llvmpipe gathers them per lane).
  const uint col_count = cols;
  const uint row_begin = gl_WorkGroupID.y * row_chunk, row_end = min(rows, row_begin + row_chunk);
  const uint out_base = gl_WorkGroupID.y * out_stride;
  const uint lane = gl_LocalInvocationID.x, slice = gl_LocalInvocationID.y;
  const uint block_stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  // Column blocks are grid-strided, so any N fits the device's workgroup-count limit. The loop bound is
  // the same for the whole workgroup, which keeps the barriers below in uniform control flow.
  for (uint block = gl_WorkGroupID.x * gl_WorkGroupSize.x; block < col_count; block += block_stride) {
    const uint col = block + lane;
    float sum = 0.0;
    if (col < col_count) {
      for (uint row = row_begin + slice; row < row_end; row += gl_WorkGroupSize.y) sum += imageLoad(DY, int(row * col_count + col)).x;
    }
    if (gl_WorkGroupSize.y == 1) {
      if (col < col_count) db[out_base + col] = sum;
      continue;
    }
    barrier();  // the previous column block's reads of `partial` are done
    partial[slice][lane] = sum;
    for (uint half_rows = gl_WorkGroupSize.y >> 1; half_rows > 0u; half_rows >>= 1) {
      barrier();
      if (slice < half_rows) partial[slice][lane] += partial[slice + half_rows][lane];
    }
    if (slice == 0u && col < col_count) db[out_base + col] = partial[0][lane];
  }
}

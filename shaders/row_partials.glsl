// A row's sum of squares in one order at every subgroup size (max_norm.comp, sgd_step_max_norm.comp).
//
// With PARTIALS = P > 0 (lavapipe: a workgroup is one subgroup of S = 4, 8 or 16 lanes; ops/optimizers.cpp
// sets P = 8) the squares of columns j = p, p + P, p + 2P, ... are added in turn into partial p, and the P
// partials in turn into the total, from 0. That is what 8 lanes with subgroupAdd compute, so lavapipe's vector
// width never changes the bits (tests/lane_width). Lane l holds partials l, l + S, ... (SLOTS of them) when
// S <= P; when S > P lane l < P holds partial l and takes the squares of lanes l + P, l + 2P, ... of each block
// of S columns by shuffles. With PARTIALS = 0 the including shader keeps its subgroupAdd (GPUs).
//
// Needs: S (the workgroup size, one subgroup), PARTIALS, GL_KHR_shader_subgroup_shuffle,
// GL_EXT_control_flow_attributes.
const uint ROW_P = PARTIALS == 0u ? 1u : PARTIALS;
const uint SLOTS = S < ROW_P ? ROW_P / S : 1u;  // partials a lane holds
// Columns a pass of the including shader's loop covers: P when S <= P (each lane one column per slot), else S.
const uint ROW_BLOCK = S < ROW_P ? ROW_P : S;

// Adds `square`, the square of column block + k*S + lane (0.0 past the row's end: +0.0 leaves a sum of squares
// unchanged to the bit), to the partial it belongs to.
void add_square(inout float part[SLOTS], uint k, float square) {
  if (S <= ROW_P) {
    [[unroll]] for (uint s = 0u; s < SLOTS; ++s) part[s] += s == k ? square : 0.0;
  } else {
    const uint lane = gl_SubgroupInvocationID;
    [[unroll]] for (uint r = 0u; r < S / ROW_P; ++r) {
      const float theirs = subgroupShuffle(square, lane % ROW_P + r * ROW_P);
      if (lane < ROW_P) part[0] += theirs;
    }
  }
}

// The total of the partials, partial 0 first; the same in every lane.
float sum_partials(float part[SLOTS]) {
  float total = 0.0;
  [[unroll]] for (uint p = 0u; p < ROW_P; ++p) {
    float mine = part[0];
    [[unroll]] for (uint s = 1u; s < SLOTS; ++s) mine = p / S == s ? part[s] : mine;
    total += subgroupShuffle(mine, p % S);
  }
  return total;
}

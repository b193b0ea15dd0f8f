// The body of matmul.comp and matmul_load.comp, which differ only in how lanes get X on the register path
// (MATMUL_SHARE_BY_LOAD, defined by each before including this), and of their _u64 twins, which store Z's quads
// as 64-bit words (MATMUL_U64_STORES).
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#if !MATMUL_SHARE_BY_LOAD
#extension GL_KHR_shader_subgroup_shuffle : require
#endif
// The _u64 twins have 64-bit integers: Philox's products as one 64-bit multiply each (philox.glsl), the same bits.
#define PHILOX_U64 MATMUL_U64_STORES
#include "dropout_mask.glsl"
// Z = X·Y (+ bias), f32. ops/matmul.cpp maps C = op(A)·op(B) onto this either directly (X = op(A), Y = op(B))
// or transposed (Z = Cᵀ, X = op(B)ᵀ, Y = op(A)ᵀ), whichever its cost model prefers, so the shader sees only:
//   X (R, K): the "row" operand, stored k-contiguous x[r*ldx + k] (X_K = 1) or r-contiguous x[k*ldx + r];
//   Y (K, Q): the "column" operand, stored k-contiguous y[q*ldy + k] (Y_K = 1) or q-contiguous y[k*ldy + q];
//   Z (R, Q): z[r*zr + q*zq], plus bias[q] or bias[r] (bias_mode 1 or 2).
//
// Two ways to compute it, chosen by the SHARED specialization constant:
//
// SHARED = 1, for GPUs: the classic tiling. A workgroup computes a TILE_M x TILE_N tile of Z; each K-slice of
// TILE_K is staged in shared memory (coalesced, bounds-checked, zero-padded loads), then every invocation
// accumulates a TM x TN register block from it.
//
// SHARED = 0, for CPU devices (lavapipe): a workgroup is one subgroup of S lanes (the SIMD width), without
// shared memory. lavapipe (Mesa 22.3) runs every storage-buffer load or store as a loop over the lanes
// (extract the address, check the bounds, insert), about 300 instructions per vec4 load, where an 8-wide
// multiply or add is one and a subgroupShuffle is one vpermd; shared memory costs the same loop plus
// barriers. A texel-buffer load (imageLoad of an imageBuffer) is one SIMD gather for all lanes, so X and Y
// are read through texel buffers (2.3x faster at 128x1024x1024 than through storage buffers); only the
// stores of Z still go lane by lane. Loads must still be few and each must feed many multiply-adds:
//   - lane l owns TN columns of Z, in runs of 4, and accumulates a TM x TN block (spilled to the stack:
//     cheap next to a load);
//   - X is staged once per chunk of KC = 4*S k-steps for the TM rows, each lane holding a different part
//     of the chunk, and every lane gets each X value from the lane that loaded it by subgroupShuffle
//     (matmul.comp; one vpermd on lavapipe, but only for exactly 8 lanes of 32 bits: at 4 or 16 it is a
//     loop over the lanes through the stack); or (matmul_load.comp, MATMUL_SHARE_BY_LOAD) every lane loads
//     the X values it needs itself, the same texel for all lanes, per 8 k-steps: faster than sharing by
//     subgroupBroadcast (3-4x at 4 lanes, 1.4-2x at 16), slower than the shuffle at 8. ops/matmul.cpp
//     picks one per device;
//   - Y is loaded per 8 k-steps, each lane its own columns;
//   - loads and stores move vec4s where the strides allow (VEC4, Z4); the _u64 twins (MATMUL_U64_STORES, CPU
//     devices with shaderInt64: ops::u64_stores) store each quad of Z as two 64-bit words, half the
//     components of lavapipe's lane-by-lane store loop (the CNN's 288x25088x64 product, K = 64 and 7.2 M
//     outputs: 16-18 -> 14-15 ms at 16 lanes).
// Per 8 k-steps: 8*TM*TN multiply-adds per lane for TM/4 + 2*TN vec4 loads.
//
// Both paths are correct for any R, Q, K >= 1: rows and columns past the edge are read as the nearest ones
// inside, k-steps past K as zeros, and no access leaves a buffer.
//
// An epilogue (EPILOGUE, ops::MatmulEpilogue) applies to each value of C on its way out, after the bias, so that a
// Linear with a ReLU and a Dropout after it, or the product that makes the gradient of such a layer's output, is one
// pass instead of two: forward, relu_forward.comp's select and then dropout.glsl's (the mask of C's flat element
// index, c_offset + r*zr + q*zq, by the mask contract); backward (a gate), relu_backward.glsl's z = g > 0 ? z·scale : 0
// with g the forward's output. Each is the same expression as in its own pass, so the bits are the same.
//
// Split K: workgroup z sums only k in [z * k_chunk, min(K, (z + 1) * k_chunk)) and writes its partial Z at
// z * z_slice; split_sum.comp then adds the slices in order (and the bias). With one slice, k_chunk = K
// and z = 0: the plain product. k_chunk is a multiple of 128 (at least one staged chunk of either path, and
// quads stay 16-byte aligned).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint X_K = 1;      // X stored k-contiguous
layout(constant_id = 2) const uint Y_K = 1;      // Y stored k-contiguous
layout(constant_id = 3) const uint VEC4 = 0;     // SHARED = 0: X and Y quads are 16-byte aligned (matmul.cpp)
layout(constant_id = 4) const uint SHARED = 1;   // 1: shared-memory tiles (GPU); 0: register blocks (CPU)
layout(constant_id = 5) const uint TM = 4;       // rows of Z per invocation (SHARED = 0: a multiple of 4)
layout(constant_id = 6) const uint TN = 4;       // columns of Z per invocation (SHARED = 0: a multiple of 4)
layout(constant_id = 7) const uint TILE_M = 64;  // SHARED = 1: rows of Z per workgroup
layout(constant_id = 8) const uint TILE_N = 64;  // SHARED = 1: columns of Z per workgroup
layout(constant_id = 9) const uint TILE_K = 16;  // SHARED = 1: K-slice staged in shared memory
layout(constant_id = 10) const uint Z_R = 0;     // Z is r-contiguous (zr = 1): Z = Cᵀ
layout(constant_id = 11) const uint Z4 = 0;      // SHARED = 0: store quads of Z as vec4 (aligned, see matmul.cpp)
// What happens to each value of C after the bias (ops/matmul.cpp, MatmulEpilogue):
const uint EPILOGUE_NONE = 0;
const uint EPILOGUE_RELU = 1;          // c > 0 ? c : 0
const uint EPILOGUE_RELU_DROPOUT = 2;  // then keep ? c·scale : 0, the mask drawn
const uint EPILOGUE_RELU_SCALE = 3;    // then c·scale (eval with the paper's vanilla scaling: no mask)
const uint EPILOGUE_GATE = 4;          // g > 0 ? c·scale : 0, g = G (the forward's output, shaped as C)
layout(constant_id = 12) const uint EPILOGUE = EPILOGUE_NONE;
// SHARED = 1: each invocation loads the next K-slice into registers while the workgroup computes the current one
// (MatmulTiling::prefetch; TILE_K·TILE_M and TILE_K·TILE_N are multiples of the workgroup size).
layout(constant_id = 13) const uint PREFETCH = 0;

layout(binding = 0) writeonly buffer Z { float z[]; };       // (R, Q) through zr, zq
#if MATMUL_U64_STORES
// Z again, as quads of two 64-bit words each (written when Z4 = 1): matmul_u64.comp and matmul_load_u64.comp, for
// CPU devices with shaderInt64, where lavapipe stores lane by lane and component by component.
layout(binding = 1) writeonly buffer Z4s { u64vec2 z4[]; };
void store_z4(uint i, vec4 v) {
  const uvec4 bits = floatBitsToUint(v);
  z4[i] = u64vec2(packUint2x32(bits.xy), packUint2x32(bits.zw));
}
#else
layout(binding = 1) writeonly buffer Z4s { vec4 z4[]; };     // Z again, as quads (written when Z4 = 1)
void store_z4(uint i, vec4 v) { z4[i] = v; }
#endif
// The register path (CPU devices) reads X and Y through texel buffers: lavapipe loads an imageBuffer texel
// for all lanes at once (a SIMD gather), where it loads a storage buffer lane by lane.
layout(binding = 2, rgba32f) readonly uniform imageBuffer X4;  // X again, as quads (read when VEC4 = 1)
layout(binding = 3, rgba32f) readonly uniform imageBuffer Y4;  // Y again, as quads (read when VEC4 = 1)
layout(binding = 4) readonly buffer X1 { float x1[]; };      // (R, K) through ldx (the shared path)
layout(binding = 5) readonly buffer Y1 { float y1[]; };      // (K, Q) through ldy (the shared path)
layout(binding = 6) readonly buffer Bias { float bias[]; };  // (Q) or (R), read when bias_mode != 0
layout(binding = 7, r32f) readonly uniform imageBuffer X1t;  // X again (the register path, VEC4 = 0)
layout(binding = 8, r32f) readonly uniform imageBuffer Y1t;  // Y again (the register path, VEC4 = 0)
layout(binding = 9) readonly buffer Step { uint step[]; };   // (2): the 64-bit step (EPILOGUE_RELU_DROPOUT)
layout(binding = 10, r32f) readonly uniform imageBuffer G1;     // (M, N) the gate (EPILOGUE_GATE), C's flat index
layout(binding = 11, rgba32f) readonly uniform imageBuffer G4;  // G again, as quads (EPILOGUE_GATE with Z4)
layout(push_constant) uniform Params {
  uint R, Q, K;
  uint ldx, ldy;   // row strides of X and Y as stored, in floats
  uint zr, zq;     // strides of Z
  uint bias_mode;  // 0: no bias; 1: bias[q] (along Z's columns); 2: bias[r] (along its rows)
  uint k_chunk;    // k-steps per workgroup z (K when K is not split)
  uint z_slice;    // floats between the partial Zs of consecutive z (a multiple of 4)
  uint c_offset;   // C's flat index of Z's first element (a column strip's dispatch binds Z from its first column)
  uint seed_lo, seed_hi, layer, threshold;  // EPILOGUE_RELU_DROPOUT: the mask contract (dropout_mask.glsl)
  float scale;     // EPILOGUE_RELU_DROPOUT, _RELU_SCALE, _GATE: kept values' factor
};

// This workgroup's k-steps, [k_begin, k_end), and where its Z starts: set first thing in main().
uint k_begin, k_end, z_base;

// ---------------------------------------------------------------------------------------------------------
// The epilogue. Its push constants and the step are read once, first thing in main(): inside control flow
// lavapipe would read them lane by lane.
uvec2 mask_seed, mask_step;
uint mask_layer, mask_threshold, element_base;
float factor;

// The epilogue of C's values element .. element + 3 (element a multiple of 4, within one row of C: one Philox draw).
vec4 epilogue_quad(vec4 v, uint element) {
  if (EPILOGUE == EPILOGUE_GATE) {
    return mix(vec4(0.0), v * factor, greaterThan(imageLoad(G4, int(element / 4)), vec4(0.0)));
  }
  if (EPILOGUE != EPILOGUE_NONE) v = mix(vec4(0.0), v, greaterThan(v, vec4(0.0)));
  if (EPILOGUE == EPILOGUE_RELU_SCALE) v = v * factor;
  if (EPILOGUE == EPILOGUE_RELU_DROPOUT) {
    v = mix(vec4(0.0), v * factor, dropout_keep4(mask_seed, mask_step, mask_layer, element / 4, mask_threshold));
  }
  return v;
}

// The epilogue of C's value `element` (one Philox draw of its quad each).
float epilogue_one(float v, uint element) {
  if (EPILOGUE == EPILOGUE_GATE) return imageLoad(G1, int(element)).x > 0.0 ? v * factor : 0.0;
  if (EPILOGUE != EPILOGUE_NONE) v = v > 0.0 ? v : 0.0;
  if (EPILOGUE == EPILOGUE_RELU_SCALE) v = v * factor;
  if (EPILOGUE == EPILOGUE_RELU_DROPOUT) {
    v = mix(0.0, v * factor, dropout_keep(mask_seed, mask_step, mask_layer, element, mask_threshold));
  }
  return v;
}

// Element (r, k) of X and (k, q) of Y.
uint x_index(uint r, uint k) { return X_K == 1 ? r * ldx + k : k * ldx + r; }
uint y_index(uint k, uint q) { return Y_K == 1 ? q * ldy + k : k * ldy + q; }

// ---------------------------------------------------------------------------------------------------------
// SHARED = 0: register blocks, no shared memory.

const uint S = gl_WorkGroupSize.x;  // lanes: one subgroup per workgroup
const uint KC = 4 * S;              // k-steps of X staged per chunk
// Rows and columns move in aligned quads (R, Q multiples of 4) for r-contiguous X, q-contiguous Y and
// vec4 stores of Z.
const bool ROW_QUADS = (VEC4 == 1 && X_K == 0) || (Z4 == 1 && Z_R == 1);
const bool COLUMN_QUADS = (VEC4 == 1 && Y_K == 0) || (Z4 == 1 && Z_R == 0);

// The row of X that accumulator row i reads: r0 + i, or past R the nearest row inside; in quad mode the
// last quad instead, keeping the place in it.
uint row_of(uint r0, uint i) {
  return ROW_QUADS ? min(r0 + i - i % 4, R - 4) + i % 4 : min(r0 + i, R - 1);
}

// The column of Y that lane `lane`'s accumulator column j reads, likewise: lane l owns runs of 4 columns,
// q0 + 4*(S*(j/4) + l) + j%4.
uint column_of(uint q0, uint lane, uint j) {
  const uint q = q0 + 4 * (S * (j / 4) + lane);
  return COLUMN_QUADS ? min(q, Q - 4) + j % 4 : min(q + j % 4, Q - 1);
}

// This lane's part of X(rows of the block, k0 .. k0 + KC), k-steps at or past k_end read as 0:
// with vec4 along k, xq[i] = X(row i, k0 + 4*lane .. + 3); otherwise xq[i][h] = X(row i, k0 + S*h + lane).
// Loads stay inside the buffer: a k-contiguous vec4 operand has K = its row stride, a multiple of 4, and
// the others clamp k.
void load_x_chunk(uint r0, uint lane, uint k0, out vec4 xq[TM]) {
  if (VEC4 == 1 && X_K == 1) {
    const uint k = k0 + 4 * lane;
    [[unroll]] for (uint i = 0; i < TM; ++i) {
      const vec4 v = imageLoad(X4, int((row_of(r0, i) * ldx + min(k, K - 4)) / 4));
      xq[i] = k < k_end ? v : vec4(0.0);
    }
  } else if (VEC4 == 1) {
    // Quads along r: rows 4p .. 4p + 3 of k-row k.
    [[unroll]] for (uint h = 0; h < 4; ++h) {
      const uint k = k0 + S * h + lane;
      [[unroll]] for (uint p = 0; p < TM / 4; ++p) {
        const vec4 v = imageLoad(X4, int((min(k, K - 1) * ldx + row_of(r0, 4 * p)) / 4));
        [[unroll]] for (uint e = 0; e < 4; ++e) xq[4 * p + e][h] = k < k_end ? v[e] : 0.0;
      }
    }
  } else {
    [[unroll]] for (uint h = 0; h < 4; ++h) {
      const uint k = k0 + S * h + lane;
      [[unroll]] for (uint i = 0; i < TM; ++i) {
        const float v = imageLoad(X1t, int(x_index(row_of(r0, i), min(k, K - 1)))).x;
        xq[i][h] = k < k_end ? v : 0.0;
      }
    }
  }
}

// X(row i, k0 + c .. k0 + c + 3) out of the chunk, c a multiple of 4 below KC, from the lane that loaded it.
#if !MATMUL_SHARE_BY_LOAD
vec4 x_quad(vec4 xq, uint c) {
  if (VEC4 == 1 && X_K == 1) return subgroupShuffle(xq, c / 4);
  const float part = xq[c / S];
  const uint lane = c % S;
  return vec4(subgroupShuffle(part, lane), subgroupShuffle(part, lane + 1), subgroupShuffle(part, lane + 2),
              subgroupShuffle(part, lane + 3));
}
#endif

// X(row i of the block, k .. k + 3), k a multiple of 4, read directly (MATMUL_SHARE_BY_LOAD); k-steps at or
// past k_end read as 0.
vec4 x_quad_direct(uint r0, uint i, uint k) {
  const uint row = row_of(r0, i);
  if (VEC4 == 1 && X_K == 1) {
    const vec4 v = imageLoad(X4, int((row * ldx + min(k, K - 4)) / 4));
    return k < k_end ? v : vec4(0.0);
  }
  vec4 v;
  [[unroll]] for (uint e = 0; e < 4; ++e) {
    const float x = imageLoad(X1t, int(x_index(row, min(k + e, K - 1)))).x;
    v[e] = k + e < k_end ? x : 0.0;
  }
  return v;
}

// X(rows 4p .. 4p + 3 of the block, k .. k + 7) into xa (k .. k + 3) and xb (k + 4 .. k + 7), read directly.
// Quads along r (r-contiguous X, VEC4) give four rows a texel: 8 loads for the 4 x 8 values.
void load_x_quads_direct(uint r0, uint p, uint k, out vec4 xa[4], out vec4 xb[4]) {
  if (VEC4 == 1 && X_K == 0) {
    [[unroll]] for (uint c = 0; c < 8; ++c) {
      const vec4 t = imageLoad(X4, int((min(k + c, K - 1) * ldx + row_of(r0, 4 * p)) / 4));
      [[unroll]] for (uint e = 0; e < 4; ++e) {
        const float v = k + c < k_end ? t[e] : 0.0;
        if (c < 4) xa[e][c] = v; else xb[e][c - 4] = v;
      }
    }
  } else {
    [[unroll]] for (uint e = 0; e < 4; ++e) {
      xa[e] = x_quad_direct(r0, 4 * p + e, k);
      xb[e] = x_quad_direct(r0, 4 * p + e, k + 4);
    }
  }
}

// yq[j] = Y(k .. k + 3, column_of(j)) for the lane's TN columns, k a multiple of 4; k-steps
// at or past k_end read as 0.
void load_y_quads(uint q0, uint lane, uint k, out vec4 yq[TN]) {
  if (VEC4 == 1 && Y_K == 1) {
    [[unroll]] for (uint j = 0; j < TN; ++j) {
      const vec4 v = imageLoad(Y4, int((column_of(q0, lane, j) * ldy + min(k, K - 4)) / 4));
      yq[j] = k < k_end ? v : vec4(0.0);
    }
  } else if (VEC4 == 1) {
    // Quads along q: columns column_of(4jq .. 4jq + 3) of k-row k + c.
    [[unroll]] for (uint jq = 0; jq < TN / 4; ++jq) {
      [[unroll]] for (uint c = 0; c < 4; ++c) {
        const vec4 v = imageLoad(Y4, int((min(k + c, K - 1) * ldy + column_of(q0, lane, 4 * jq)) / 4));
        [[unroll]] for (uint e = 0; e < 4; ++e) yq[4 * jq + e][c] = k + c < k_end ? v[e] : 0.0;
      }
    }
  } else {
    [[unroll]] for (uint j = 0; j < TN; ++j) {
      [[unroll]] for (uint c = 0; c < 4; ++c) {
        const float v = imageLoad(Y1t, int(y_index(min(k + c, K - 1), column_of(q0, lane, j)))).x;
        yq[j][c] = k + c < k_end ? v : 0.0;
      }
    }
  }
}

void main_registers() {
  const uint lane = gl_SubgroupInvocationID;
  const uint r0 = gl_WorkGroupID.y * TM;
  const uint q0 = gl_WorkGroupID.x * (S * TN);
  float acc[TM * TN];
  [[unroll]] for (uint i = 0; i < TM * TN; ++i) acc[i] = 0.0;

#if MATMUL_SHARE_BY_LOAD
  // Every lane loads the X values it needs itself: the same texel for all lanes (a gather of one address).
  for (uint k0 = k_begin; k0 < k_end; k0 += 8) {
    vec4 ya[TN];
    vec4 yb[TN];
    load_y_quads(q0, lane, k0, ya);
    load_y_quads(q0, lane, k0 + 4, yb);
    [[unroll]] for (uint p = 0; p < TM / 4; ++p) {
      vec4 xa[4], xb[4];  // rows 4p .. 4p + 3 of the block, k-steps k0 .. k0 + 3 and k0 + 4 .. k0 + 7
      load_x_quads_direct(r0, p, k0, xa, xb);
      [[unroll]] for (uint e = 0; e < 4; ++e) {
        const uint i = 4 * p + e;
        [[unroll]] for (uint j = 0; j < TN; ++j) acc[i * TN + j] += dot(xa[e], ya[j]) + dot(xb[e], yb[j]);
      }
    }
  }
#else
  for (uint k0 = k_begin; k0 < k_end; k0 += KC) {
    vec4 xq[TM];
    load_x_chunk(r0, lane, k0, xq);
    // 8 k-steps per iteration, two dot products per accumulator update: lavapipe stores every
    // accumulator update under the loop's execution mask (a blend and a store), so fewer updates help.
    for (uint c = 0; c < KC && k0 + c < k_end; c += 8) {
      vec4 ya[TN];
      vec4 yb[TN];
      load_y_quads(q0, lane, k0 + c, ya);
      load_y_quads(q0, lane, k0 + c + 4, yb);
      [[unroll]] for (uint i = 0; i < TM; ++i) {
        const vec4 xa = x_quad(xq[i], c), xb = x_quad(xq[i], c + 4);
        [[unroll]] for (uint j = 0; j < TN; ++j) acc[i * TN + j] += dot(xa, ya[j]) + dot(xb, yb[j]);
      }
    }
  }
#endif

  // Accumulators past the edge hold exactly the values of the row_of / column_of element they read, so
  // storing them there again writes the same bits, from the same subgroup (lavapipe stores lane after
  // lane): no branch per store. This path runs only on CPU devices. Every store is a loop over the lanes
  // and LLVM takes seconds to compile TM*TN of them, so a loop that is not unrolled stores four rows per
  // iteration, picking them out of the accumulators with selects (cheap SIMD instructions).
  float column_bias[TN];
  [[unroll]] for (uint j = 0; j < TN; ++j) column_bias[j] = 0.0;
  if (bias_mode == 1) {
    [[unroll]] for (uint j = 0; j < TN; ++j) column_bias[j] = bias[column_of(q0, lane, j)];
  }
  [[dont_unroll]] for (uint p = 0; p < TM / 4; ++p) {
    float v[4 * TN];  // rows 4p .. 4p + 3
    [[unroll]] for (uint e = 0; e < 4 * TN; ++e) v[e] = acc[e];
    [[unroll]] for (uint pp = 1; pp < TM / 4; ++pp) {
      [[unroll]] for (uint e = 0; e < 4 * TN; ++e) v[e] = p == pp ? acc[pp * 4 * TN + e] : v[e];
    }
    uint r[4];
    float row_bias[4];
    [[unroll]] for (uint e = 0; e < 4; ++e) {
      r[e] = row_of(r0, 4 * p + e);
      row_bias[e] = 0.0;
    }
    if (bias_mode == 2) {
      [[unroll]] for (uint e = 0; e < 4; ++e) row_bias[e] = bias[r[e]];
    }
    [[unroll]] for (uint e = 0; e < 4; ++e) {
      [[unroll]] for (uint j = 0; j < TN; ++j) v[e * TN + j] += column_bias[j] + row_bias[e];
    }
    // A quad of Z4 is four consecutive elements of C (zq = 1, or zr = 1 for Cᵀ), starting at a multiple of 4.
    if (Z4 == 1 && Z_R == 0) {
      [[unroll]] for (uint e = 0; e < 4; ++e) {
        [[unroll]] for (uint jq = 0; jq < TN / 4; ++jq) {
          const uint at = r[e] * zr + column_of(q0, lane, 4 * jq);
          const vec4 quad = vec4(v[e * TN + 4 * jq], v[e * TN + 4 * jq + 1], v[e * TN + 4 * jq + 2], v[e * TN + 4 * jq + 3]);
          store_z4((z_base + at) / 4, epilogue_quad(quad, element_base + at));
        }
      }
    } else if (Z4 == 1) {
      [[unroll]] for (uint j = 0; j < TN; ++j) {
        const uint at = column_of(q0, lane, j) * zq + r[0];
        store_z4((z_base + at) / 4, epilogue_quad(vec4(v[j], v[TN + j], v[2 * TN + j], v[3 * TN + j]), element_base + at));
      }
    } else {
      [[unroll]] for (uint e = 0; e < 4; ++e) {
        [[unroll]] for (uint j = 0; j < TN; ++j) {
          const uint at = r[e] * zr + column_of(q0, lane, j) * zq;
          z[z_base + at] = epilogue_one(v[e * TN + j], element_base + at);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// SHARED = 1: shared-memory tiles.

shared float xs[TILE_K * TILE_M];  // [kk][r]
shared float ys[TILE_K * TILE_N];  // [kk][q]

// Element e of the K-slice at k0 of X as staged in xs[kk * TILE_M + rr], and of Y in ys[kk * TILE_N + qq]: consecutive
// invocations take consecutive e, and so read consecutive addresses along k when the operand is k-contiguous. Indices
// are clamped so that the load stays inside the buffer even if the compiler evaluates both sides of the select;
// elements past the edge become 0.
uint x_slot(uint e) { return X_K == 1 ? (e % TILE_K) * TILE_M + e / TILE_K : e; }
uint y_slot(uint e) { return Y_K == 1 ? (e % TILE_K) * TILE_N + e / TILE_K : e; }
float x_slice_value(uint r0, uint k0, uint e) {
  const uint kk = X_K == 1 ? e % TILE_K : e / TILE_M;
  const uint rr = X_K == 1 ? e / TILE_K : e % TILE_M;
  const uint r = r0 + rr, k = k0 + kk;
  const float v = x1[x_index(min(r, R - 1), min(k, K - 1))];
  return (r < R && k < k_end) ? v : 0.0;
}
float y_slice_value(uint q0, uint k0, uint e) {
  const uint kk = Y_K == 1 ? e % TILE_K : e / TILE_N;
  const uint qq = Y_K == 1 ? e / TILE_K : e % TILE_N;
  const uint q = q0 + qq, k = k0 + kk;
  const float v = y1[y_index(min(k, K - 1), min(q, Q - 1))];
  // A k-step past the end multiplies +0 by -0: adding that exact -0 leaves every sum as it was, -0 included,
  // so how many such steps a tile's last K-slice has (TILE_K) cannot change a bit.
  return k >= k_end ? uintBitsToFloat(0x80000000u) : q < Q ? v : 0.0;
}

// PREFETCH: the slice's values this invocation stages, elements tid + i * threads.
const uint X_PER_INVOCATION = PREFETCH == 1 ? TILE_K * TILE_M / gl_WorkGroupSize.x : 1;
const uint Y_PER_INVOCATION = PREFETCH == 1 ? TILE_K * TILE_N / gl_WorkGroupSize.x : 1;

void main_shared() {
  const uint threads = gl_WorkGroupSize.x;
  const uint tid = gl_LocalInvocationID.x;
  const uint cols = TILE_N / TN;  // invocations across a tile row
  const uint rows = TILE_M / TM;
  const uint tx = tid % cols, ty = tid / cols;
  const uint r0 = gl_WorkGroupID.y * TILE_M;
  const uint q0 = gl_WorkGroupID.x * TILE_N;
  // precise: fma() is one rounding in every pipeline (GLSL lets an unmarked fma be a multiply and an add), so that
  // every tile of the matmul tuner's candidates gives the same bits.
  precise float acc[TM * TN];
  [[unroll]] for (uint i = 0; i < TM * TN; ++i) acc[i] = 0.0;

  float x_next[X_PER_INVOCATION], y_next[Y_PER_INVOCATION];  // PREFETCH: the next slice's values
  if (PREFETCH == 1 && k_begin < k_end) {  // K = 0 (c = the bias): nothing to load, and K - 1 would not clamp
    [[unroll]] for (uint i = 0; i < X_PER_INVOCATION; ++i) x_next[i] = x_slice_value(r0, k_begin, tid + i * threads);
    [[unroll]] for (uint i = 0; i < Y_PER_INVOCATION; ++i) y_next[i] = y_slice_value(q0, k_begin, tid + i * threads);
  }
  for (uint k0 = k_begin; k0 < k_end; k0 += TILE_K) {
    if (PREFETCH == 1) {
      [[unroll]] for (uint i = 0; i < X_PER_INVOCATION; ++i) xs[x_slot(tid + i * threads)] = x_next[i];
      [[unroll]] for (uint i = 0; i < Y_PER_INVOCATION; ++i) ys[y_slot(tid + i * threads)] = y_next[i];
    } else {
      for (uint e = tid; e < TILE_K * TILE_M; e += threads) xs[x_slot(e)] = x_slice_value(r0, k0, e);
      for (uint e = tid; e < TILE_K * TILE_N; e += threads) ys[y_slot(e)] = y_slice_value(q0, k0, e);
    }
    barrier();
    // The next slice's loads go out now and land while this one is multiplied (nothing reads them before the
    // barrier that ends this iteration).
    if (PREFETCH == 1 && k0 + TILE_K < k_end) {
      [[unroll]] for (uint i = 0; i < X_PER_INVOCATION; ++i) x_next[i] = x_slice_value(r0, k0 + TILE_K, tid + i * threads);
      [[unroll]] for (uint i = 0; i < Y_PER_INVOCATION; ++i) y_next[i] = y_slice_value(q0, k0 + TILE_K, tid + i * threads);
    }
    [[unroll]] for (uint kk = 0; kk < TILE_K; ++kk) {
      float a[TM];
      float b[TN];
      // Strided ownership (row ty + i*rows) keeps neighbouring invocations on neighbouring banks.
      [[unroll]] for (uint i = 0; i < TM; ++i) a[i] = xs[kk * TILE_M + ty + i * rows];
      [[unroll]] for (uint j = 0; j < TN; ++j) b[j] = ys[kk * TILE_N + tx + j * cols];
      [[unroll]] for (uint i = 0; i < TM; ++i) {
        [[unroll]] for (uint j = 0; j < TN; ++j) acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]);
      }
    }
    barrier();
  }

  [[unroll]] for (uint i = 0; i < TM; ++i) {
    [[unroll]] for (uint j = 0; j < TN; ++j) {
      const uint r = r0 + ty + i * rows, q = q0 + tx + j * cols;
      if (r < R && q < Q) {
        float value = acc[i * TN + j];
        if (bias_mode == 1) value += bias[q];
        if (bias_mode == 2) value += bias[r];
        z[z_base + r * zr + q * zq] = epilogue_one(value, element_base + r * zr + q * zq);
      }
    }
  }
}

void main() {
  k_begin = gl_WorkGroupID.z * k_chunk;
  k_end = min(K, k_begin + k_chunk);
  z_base = gl_WorkGroupID.z * z_slice;
  mask_seed = uvec2(seed_lo, seed_hi);
  mask_step = EPILOGUE == EPILOGUE_RELU_DROPOUT ? uvec2(step[0], step[1]) : uvec2(0);
  mask_layer = layer;
  mask_threshold = threshold;
  element_base = c_offset;
  factor = scale;
  if (SHARED == 1) {
    main_shared();
  } else {
    main_registers();
  }
}

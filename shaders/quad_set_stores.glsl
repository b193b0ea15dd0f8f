// The stores of a loop-free quad-set kernel (quad_sets.glsl). Include after declaring the output's bindings,
// named by two macros:
//   #define QUAD_SET_FLOATS y    // layout(...) writeonly buffer ... { float y[]; };            every element
//   #define QUAD_SET_QUADS y4    // layout(...) writeonly buffer ... { QUAD_STORE_TYPE y4[]; };  whole quads
//   #include "quad_set_stores.glsl"
//
// QUAD_PAIR_STORES = 0 (GPUs, CPU devices without 64-bit integers): a vec4 store per quad.
// QUAD_PAIR_STORES = 1 (a kernel's `_u64` twin, CPU devices with shaderInt64: ops::u64_stores): the set's
// quads 2h and 2h + 1, side by side in a CPU device's order (CONTIGUOUS, which this needs), as one u64vec4 of
// the same bits. lavapipe (Mesa 22.3) stores lane after lane and component after component, so four 64-bit
// components a lane for eight floats take about half the store loop of eight 32-bit ones (the copy kernel 1.3-1.6x
// as fast, bench_dropout). With an odd number of whole quads the last one has no partner: its four floats
// go through QUAD_SET_FLOATS, compiled only then (LONE_QUAD).

#ifndef QUAD_SET_STORES_GLSL
#define QUAD_SET_STORES_GLSL

// Stores value[i], the result of quad set_quad(i), for the quads of this invocation's set below `whole`.
void store_quad_set(vec4 value[QUAD_SET], uint whole) {
#if QUAD_PAIR_STORES
  [[unroll]] for (uint h = 0; h < QUAD_SET / 2; ++h) {
    const uint q = set_quad(2 * h);  // even: CONTIGUOUS sets start at a multiple of QUAD_SET
    if (q + 1 < whole) {
      const uvec4 a = floatBitsToUint(value[2 * h]), b = floatBitsToUint(value[2 * h + 1]);
      QUAD_SET_QUADS[q / 2] = u64vec4(packUint2x32(a.xy), packUint2x32(a.zw), packUint2x32(b.xy), packUint2x32(b.zw));
    }
  }
  if (LONE_QUAD) {
    const uint lone = whole - 1, slot = set_slot(lone);
    if (slot < QUAD_SET) {
      [[unroll]] for (uint e = 0; e < 4; ++e) QUAD_SET_FLOATS[4 * lone + e] = value[slot][e];
    }
  }
#else
  [[unroll]] for (uint i = 0; i < QUAD_SET; ++i) {
    const uint q = set_quad(i);
    if (q < whole) QUAD_SET_QUADS[q] = value[i];
  }
#endif
}

#endif  // QUAD_SET_STORES_GLSL

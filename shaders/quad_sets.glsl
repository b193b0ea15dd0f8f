// Loop-free element-wise kernels over quads (ops/quads.hpp): the grid has an invocation for every QUAD_SET
// quads. Invocation l of (flattened) workgroup g, invocation number v = g * L + l (L the workgroup size), takes
//   - on a GPU (CONTIGUOUS = false) quads (QUAD_SET * g + i) * L + l, i < QUAD_SET: consecutive lanes on
//     consecutive quads, a GPU's coalesced access;
//   - on a CPU device (CONTIGUOUS = true) quads QUAD_SET * v + i: lavapipe stores lane after lane, and a lane's
//     own quads side by side were faster (a dropout without a mask 14 GB/s against 12, 16 lanes).
// And on lavapipe
//   - no loop: lavapipe pays for every iteration of a loop (its execution masks) about a third of what a
//     quad's copy costs, even for a loop that runs once (a copy kernel: 10.8 GB/s without a loop, 8.2 with a
//     grid-stride loop of one iteration, 16 lanes);
//   - the partial last quad outside the sets, and compiled only where there is one (the PARTIAL specialization
//     constant, declared by the includer): lavapipe runs a branch's code for every lane even where no lane
//     takes it, so a partial-quad branch in every set cost the whole quads as much again.
// The grid may be two-dimensional (ops::loop_free_groups): workgroup g = y * groups.x + x; invocations past the
// last quad take none. quads < 2^30, so no index overflows.
//
// Use: define QUAD_PAIR_STORES (0, or 1 in a kernel's `_u64` twin: quad_set_stores.glsl), and QUAD_SET_CONSTANTS
// if the kernel has specialization constants of its own before this header's (below), then
//   #include "quad_sets.glsl"
// declare the output's bindings (floats, and QUAD_STORE_TYPE for its whole quads), include quad_set_stores.glsl,
// and in main(): for i < QUAD_SET, q = set_quad(i), if (q < whole) compute quad i; store_quad_set(); then
//   if (PARTIAL && set_slot(whole) < QUAD_SET) the partial quad whole (elements 4 * whole .. n - 1).

#ifndef QUAD_SETS_GLSL
#define QUAD_SETS_GLSL

#define QUAD_SET 4  // quads per invocation (a macro: array sizes and #if may use it)

// The specialization constants of every quad-set kernel, in ops::quad_set_flags' order, from constant_id
// QUAD_SET_CONSTANTS (1, after the workgroup size, unless the includer puts constants of its own first).
#ifndef QUAD_SET_CONSTANTS
#define QUAD_SET_CONSTANTS 1
#endif
layout(constant_id = QUAD_SET_CONSTANTS) const bool PARTIAL = false;        // n % 4 != 0
layout(constant_id = QUAD_SET_CONSTANTS + 1) const bool CONTIGUOUS = false;  // a CPU device's order (above)
layout(constant_id = QUAD_SET_CONSTANTS + 2) const bool LONE_QUAD = false;   // odd whole quads (quad_set_stores.glsl)

// How the output's whole quads are stored (quad_set_stores.glsl): as vec4s, or in pairs as u64vec4s.
#if QUAD_PAIR_STORES
#define QUAD_STORE_TYPE u64vec4
#else
#define QUAD_STORE_TYPE vec4
#endif

uint quad_set_group() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }

// Quad i of this invocation's set.
uint set_quad(uint i) {
  const uint invocation = quad_set_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  return CONTIGUOUS ? invocation * QUAD_SET + i
                    : (quad_set_group() * QUAD_SET + i) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
}

// i where set_quad(i) == q, or QUAD_SET if q is not in this invocation's set.
uint set_slot(uint q) {
  const uint d = q - set_quad(0);  // wraps to a huge value below the set
  if (CONTIGUOUS) return d < QUAD_SET ? d : QUAD_SET;
  return d % gl_WorkGroupSize.x == 0u && d / gl_WorkGroupSize.x < QUAD_SET ? d / gl_WorkGroupSize.x : QUAD_SET;
}

#endif  // QUAD_SETS_GLSL

#version 450
#extension GL_GOOGLE_include_directive : require
// block_transpose.comp for E % 4 == 0 as a loop-free quad-set kernel: see block_transpose_quads.glsl.
#define QUAD_PAIR_STORES 0
#include "block_transpose_quads.glsl"

#version 450
#extension GL_GOOGLE_include_directive : require
// Element-wise dropout, forward and backward, four quads per iteration with their Philox draws interleaved:
// see dropout.glsl. CPU devices (lavapipe), where one draw's dependent rounds would leave the core waiting.
#define DRAWS_AT_ONCE 4
#define QUAD_PAIR_STORES 0
#include "dropout.glsl"

#version 450
#extension GL_GOOGLE_include_directive : require
// y = x, a vec4 store per quad: see copy.glsl.
#define QUAD_PAIR_STORES 0
#include "copy.glsl"

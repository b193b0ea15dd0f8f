#version 450
#extension GL_GOOGLE_include_directive : require
// Dropout2d on CPU devices without a loop, a vec4 store per quad: see dropout2d_sets.glsl.
#define QUAD_PAIR_STORES 0
#include "dropout2d_sets.glsl"

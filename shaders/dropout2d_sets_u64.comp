#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
// Dropout2d on CPU devices without a loop, pairs of quads stored as u64vec4s (CPU devices with shaderInt64, channels
// of an even number of quads): see dropout2d_sets.glsl.
#define QUAD_PAIR_STORES 1
#include "dropout2d_sets.glsl"

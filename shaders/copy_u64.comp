#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
// y = x as copy.comp, pairs of quads stored as u64vec4s (CPU devices with shaderInt64, quad_set_stores.glsl).
#define QUAD_PAIR_STORES 1
vec4 map_quad(vec4 x) { return x; }
float map_float(float x) { return x; }
#include "unary_quad_set.glsl"

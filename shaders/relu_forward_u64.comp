#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
// ReLU forward as relu_forward.comp, pairs of quads stored as u64vec4s (CPU devices with shaderInt64,
// quad_set_stores.glsl).
#define QUAD_PAIR_STORES 1
vec4 map_quad(vec4 x) { return mix(vec4(0.0), x, greaterThan(x, vec4(0.0))); }
float map_float(float x) { return x > 0.0 ? x : 0.0; }
#include "unary_quad_set.glsl"

#version 450
#extension GL_GOOGLE_include_directive : require
// y = x > 0 ? x : 0, a select rather than max(), so NaN and -0 give +0 as in reference/relu.hpp; a vec4 store per
// quad (unary_quad_set.glsl).
#define QUAD_PAIR_STORES 0
vec4 map_quad(vec4 x) { return mix(vec4(0.0), x, greaterThan(x, vec4(0.0))); }
float map_float(float x) { return x > 0.0 ? x : 0.0; }
#include "unary_quad_set.glsl"

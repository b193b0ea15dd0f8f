#version 450
#extension GL_GOOGLE_include_directive : require
// y = x, the memory-bandwidth yardstick the other kernels are measured against: it moves floats as the loop-free
// element-wise kernels do (unary_quad_set.glsl), a vec4 store per quad.
#define QUAD_PAIR_STORES 0
vec4 map_quad(vec4 x) { return x; }
float map_float(float x) { return x; }
#include "unary_quad_set.glsl"

#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
// ReLU backward, pairs of quads stored as u64vec4s (CPU devices with shaderInt64): see relu_backward.glsl.
#define QUAD_PAIR_STORES 1
#include "relu_backward.glsl"

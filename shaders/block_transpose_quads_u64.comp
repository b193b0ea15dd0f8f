#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
// block_transpose_quads.comp with pairs of quads stored as u64vec4s (CPU devices with shaderInt64,
// quad_set_stores.glsl).
#define QUAD_PAIR_STORES 1
#include "block_transpose_quads.glsl"

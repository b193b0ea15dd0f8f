#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
// dropout_interleaved.comp with pairs of quads stored as u64vec4s (CPU devices with shaderInt64,
// quad_set_stores.glsl): see dropout.glsl.
#define DRAWS_AT_ONCE 4
#define QUAD_PAIR_STORES 1
#include "dropout.glsl"

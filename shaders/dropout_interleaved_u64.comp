#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
// dropout_interleaved.comp with pairs of quads stored as u64vec4s (quad_set_stores.glsl) and Philox's products as
// 64-bit multiplies (philox.glsl), for CPU devices with shaderInt64: see dropout.glsl.
#define DRAWS_AT_ONCE 4
#define QUAD_PAIR_STORES 1
#define PHILOX_U64 1
#include "dropout.glsl"

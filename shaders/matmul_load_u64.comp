#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
// Z = X·Y (+ bias), f32, Z's quads stored as 64-bit words (CPU devices with shaderInt64): see matmul.glsl. On
// the register path (CPU devices) every lane loads the X values it needs itself (the same texel for all lanes)
// instead of taking them from the lane that loaded them: ops/matmul.cpp uses it where a subgroupShuffle is not a
// single instruction (lavapipe at 4 or 16 lanes).
#define MATMUL_U64_STORES 1
#define MATMUL_SHARE_BY_LOAD 1
#include "matmul.glsl"

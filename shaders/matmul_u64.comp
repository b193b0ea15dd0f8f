#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
// Z = X·Y (+ bias), f32, Z's quads stored as 64-bit words (CPU devices with shaderInt64): see matmul.glsl. On
// the register path (CPU devices) lanes share X by subgroupShuffle, which lavapipe runs as one vpermd with 8 lanes.
#define MATMUL_U64_STORES 1
#define MATMUL_SHARE_BY_LOAD 0
#include "matmul.glsl"

#version 450
#extension GL_GOOGLE_include_directive : require
// Z = X·Y (+ bias), f32, for Vulkan 1.1: see matmul.glsl. On the register path (CPU devices) lanes share X by
// subgroupShuffle, which lavapipe runs as one vpermd with 8 lanes.
#define MATMUL_U64_STORES 0
#define MATMUL_SHARE_BY_LOAD 0
#include "matmul.glsl"

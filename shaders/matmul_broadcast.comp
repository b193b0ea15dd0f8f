#version 450
// vkdrop-target-env: vulkan1.2
#extension GL_GOOGLE_include_directive : require
// Z = X·Y (+ bias), f32: see matmul.glsl. On the register path (CPU devices) lanes share X by subgroupBroadcast
// from a dynamically uniform lane (SPIR-V 1.5, Vulkan 1.2), which lavapipe runs as an extract and a splat at
// any subgroup size; ops/matmul.cpp uses it where the shuffle is not a single instruction.
#define MATMUL_SHARE_BY_BROADCAST 1
#include "matmul.glsl"

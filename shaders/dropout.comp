#version 450
#extension GL_GOOGLE_include_directive : require
// Element-wise dropout, forward and backward, one quad per invocation and iteration: see dropout.glsl. GPUs.
#define DRAWS_AT_ONCE 1
#include "dropout.glsl"

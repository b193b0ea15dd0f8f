#version 450
#extension GL_GOOGLE_include_directive : require
// ReLU forward, a vec4 store per quad: see relu_forward.glsl.
#define QUAD_PAIR_STORES 0
#include "relu_forward.glsl"

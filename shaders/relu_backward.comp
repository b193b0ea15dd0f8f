#version 450
#extension GL_GOOGLE_include_directive : require
// ReLU backward, a vec4 store per quad: see relu_backward.glsl.
#define QUAD_PAIR_STORES 0
#include "relu_backward.glsl"

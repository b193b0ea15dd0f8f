#pragma once
// vkdrop: train neural networks with Vulkan compute on any vendor's GPU. One include for the whole API.

#include "runtime/arena.hpp"
#include "runtime/context.hpp"
#include "runtime/error.hpp"
#include "runtime/kernel.hpp"
#include "runtime/recorder.hpp"
#include "runtime/tensor.hpp"

#pragma once
// vkdrop: train neural networks with Vulkan compute on any vendor's GPU. One include for the whole API.

#include "datasets/device_dataset.hpp"
#include "datasets/idx.hpp"
#include "datasets/mnist.hpp"
#include "layers/dropout.hpp"
#include "layers/linear.hpp"
#include "layers/relu.hpp"
#include "layers/sequential.hpp"
#include "runtime/arena.hpp"
#include "runtime/context.hpp"
#include "runtime/error.hpp"
#include "runtime/kernel.hpp"
#include "runtime/recorder.hpp"
#include "runtime/tensor.hpp"
#include "train/model.hpp"
#include "train/safetensors.hpp"

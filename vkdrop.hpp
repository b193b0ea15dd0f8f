#pragma once
// vkdrop: train neural networks with Vulkan compute on any vendor's GPU. One include for the whole API.

#include <vkdrop/datasets/device_dataset.hpp>
#include <vkdrop/datasets/idx.hpp>
#include <vkdrop/datasets/mnist.hpp>
#include <vkdrop/layers/avg_pool2d.hpp>
#include <vkdrop/layers/batch_norm1d.hpp>
#include <vkdrop/layers/batch_norm2d.hpp>
#include <vkdrop/layers/conv2d.hpp>
#include <vkdrop/layers/dropout.hpp>
#include <vkdrop/layers/elu.hpp>
#include <vkdrop/layers/flatten.hpp>
#include <vkdrop/layers/leaky_relu.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/max_pool2d.hpp>
#include <vkdrop/layers/relu.hpp>
#include <vkdrop/layers/sequential.hpp>
#include <vkdrop/layers/sigmoid.hpp>
#include <vkdrop/layers/tanh.hpp>
#include <vkdrop/runtime/arena.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/kernel.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>
#include <vkdrop/train/model.hpp>
#include <vkdrop/train/safetensors.hpp>

#pragma once
// How element-wise activations record themselves, shared by their ops (sigmoid, tanh, leaky_relu, elu).
// Their shaders follow one interface: forward and backward in one file, chosen by constant_id 1 (0 forward,
// 1 backward; constant_id 0 is the workgroup size); binding 0 the saved tensor (the forward's x, or for
// backward the x or y the derivative is computed from), binding 1 dy (unread forward), binding 2 the output
// (y or dx, which may be binding 0 or 1: in place); push constants {uint n} or {uint n; float parameter}.

#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <optional>

namespace vkdrop::ops {

struct Activation {
  const char* shader;                 // "elu": shaders/elu.comp
  std::optional<float> parameter;     // the float push constant after n (alpha, negative_slope), if any
  const char* parameter_name = "";    // for the message when the parameter is not finite
};

// y = f(x). Checks: f32, one shape, y in place of x or disjoint, a finite parameter.
void activation_forward(Recorder& rec, const Activation& a, const Tensor& y, const Tensor& x);
// dx = f'(saved) · dy, where `saved` (named `saved_role` in messages: "x" or "y") is what the shader derives
// f' from. dx may be dy or saved (in place).
void activation_backward(Recorder& rec, const Activation& a, const Tensor& dx, const Tensor& dy, const Tensor& saved,
                         const char* saved_role);

}  // namespace vkdrop::ops

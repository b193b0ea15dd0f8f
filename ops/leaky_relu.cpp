#include <vkdrop/ops/leaky_relu.hpp>

#include <vkdrop/ops/activation.hpp>

namespace vkdrop::ops {

void leaky_relu_forward(Recorder& rec, const Tensor& y, const Tensor& x, float negative_slope) {
  activation_forward(rec, Activation{"leaky_relu", negative_slope, "negative_slope"}, y, x);
}

void leaky_relu_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& x, float negative_slope) {
  activation_backward(rec, Activation{"leaky_relu", negative_slope, "negative_slope"}, dx, dy, x, "x");
}

}  // namespace vkdrop::ops

#include <vkdrop/ops/elu.hpp>

#include <vkdrop/ops/activation.hpp>

namespace vkdrop::ops {

void elu_forward(Recorder& rec, const Tensor& y, const Tensor& x, float alpha) {
  activation_forward(rec, Activation{"elu", alpha, "alpha"}, y, x);
}

void elu_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& x, float alpha) {
  activation_backward(rec, Activation{"elu", alpha, "alpha"}, dx, dy, x, "x");
}

}  // namespace vkdrop::ops

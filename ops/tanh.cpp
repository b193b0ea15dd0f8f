#include <vkdrop/ops/tanh.hpp>

#include <vkdrop/ops/activation.hpp>

namespace vkdrop::ops {

void tanh_forward(Recorder& rec, const Tensor& y, const Tensor& x) {
  activation_forward(rec, Activation{"tanh", {}}, y, x);
}

// From the forward's output y, so an in-place tanh can be differentiated.
void tanh_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& y) {
  activation_backward(rec, Activation{"tanh", {}}, dx, dy, y, "y");
}

}  // namespace vkdrop::ops

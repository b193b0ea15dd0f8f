#include <vkdrop/ops/sigmoid.hpp>

#include <vkdrop/ops/activation.hpp>

namespace vkdrop::ops {

void sigmoid_forward(Recorder& rec, const Tensor& y, const Tensor& x) {
  activation_forward(rec, Activation{"sigmoid", {}}, y, x);
}

// From the forward's output y, so an in-place sigmoid can be differentiated.
void sigmoid_backward(Recorder& rec, const Tensor& dx, const Tensor& dy, const Tensor& y) {
  activation_backward(rec, Activation{"sigmoid", {}}, dx, dy, y, "y");
}

}  // namespace vkdrop::ops

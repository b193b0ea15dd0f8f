#pragma once
// tests/synthetic.hpp's learnable problem with its 16 features given a sample shape, by default (1, 4, 4): one
// channel of 4 × 4, for layers that take images (pooling, batch norm). The class is still the position of the
// largest of the first four features, i.e. of row 0 of the image.
#include "synthetic.hpp"

namespace vkdrop::test {

inline TrainConfig synthetic_images_config() { return synthetic_config(); }

// train_synthetic on images of shape `sample`.
inline SyntheticRun train_synthetic_images(const Sequential& net, int epochs, Shape sample = {1, 4, 4}) {
  return train_synthetic(net, epochs, std::move(sample));
}

}  // namespace vkdrop::test

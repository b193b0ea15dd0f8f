#pragma once
// MNIST: 60000 training and 10000 test images of handwritten digits, 28x28 uint8, with labels 0..9.
// `./vkdrop.sh data` fetches the four IDX files into default_data_dir(); load_mnist checks that they are
// whole and agree with each other before anything trains on them.

#include <cstdint>
#include <filesystem>
#include <vector>

namespace vkdrop {

struct MnistSplit {
  std::vector<uint8_t> images;  // (count, rows, cols), 0 = background, 255 = ink
  std::vector<uint8_t> labels;  // (count), each 0..9
  uint32_t count = 0;
  uint32_t rows = 0;  // 28
  uint32_t cols = 0;  // 28
};

struct Mnist {
  MnistSplit train;  // count 60000 for the real data set
  MnistSplit test;   // count 10000
};

// Reads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte from dir, each raw or with .gz appended. Throws DataError when a file is
// missing (saying to run `./vkdrop.sh data`), damaged, not 28x28 images, when images and labels differ in
// count, or when a label is outside 0..9.
Mnist load_mnist(const std::filesystem::path& dir);

// Where `./vkdrop.sh data` puts MNIST, outside any build tree so a clean build does not fetch it again:
// $VKDROP_DATA_DIR if set, else $XDG_CACHE_HOME/vkdrop/mnist, else $HOME/.cache/vkdrop/mnist.
// Empty variables count as unset, as in the script.
std::filesystem::path default_data_dir();

}  // namespace vkdrop

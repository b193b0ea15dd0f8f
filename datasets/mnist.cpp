#include <vkdrop/datasets/mnist.hpp>

#include <fmt/format.h>

#include <cstdlib>
#include <string>
#include <utility>

#include <vkdrop/datasets/idx.hpp>
#include <vkdrop/runtime/error.hpp>

namespace vkdrop {

namespace {

namespace fs = std::filesystem;

constexpr uint32_t k_mnist_rows = 28;
constexpr uint32_t k_mnist_cols = 28;
constexpr uint8_t k_mnist_classes = 10;

// The raw file if present, else its .gz twin: mirrors serve .gz, the npm package we fetch is raw.
// When neither exists the error names both and says how to get them, which beats read_idx's
// message about just one of the names.
fs::path find_mnist_file(const fs::path& dir, const std::string& name) {
  const fs::path raw = dir / name;
  const fs::path gz = dir / (name + ".gz");
  std::error_code ec;
  if (fs::exists(raw, ec)) return raw;
  if (fs::exists(gz, ec)) return gz;
  throw DataError(fmt::format("{}: MNIST file not found (nor {}.gz); run `./vkdrop.sh data` to fetch MNIST, "
                              "or point --data-dir / VKDROP_DATA_DIR at a directory holding it",
                              raw.string(), name));
}

MnistSplit load_mnist_split(const fs::path& dir, const std::string& images_name, const std::string& labels_name) {
  const fs::path images_path = find_mnist_file(dir, images_name);
  const fs::path labels_path = find_mnist_file(dir, labels_name);
  IdxArray images = read_idx_u8(images_path, 3);
  IdxArray labels = read_idx_u8(labels_path, 1);

  if (images.dims[1] != k_mnist_rows || images.dims[2] != k_mnist_cols) {
    throw DataError(fmt::format("{}: images are {}x{}, MNIST images are {}x{}", images_path.string(),
                                images.dims[1], images.dims[2], k_mnist_rows, k_mnist_cols));
  }
  // A mismatch here usually means files from two different downloads: pairing them would train on
  // wrong labels without any other sign.
  if (images.dims[0] != labels.dims[0]) {
    throw DataError(fmt::format("{} holds {} images but {} holds {} labels; they must match (refetch with "
                                "`./vkdrop.sh data`)",
                                images_path.string(), images.dims[0], labels_path.string(), labels.dims[0]));
  }
  // Checked here once so the loss never indexes past its 10 classes.
  for (size_t i = 0; i < labels.bytes.size(); ++i) {
    if (labels.bytes[i] >= k_mnist_classes) {
      throw DataError(fmt::format("{}: label {} is {}, MNIST labels are 0..{}", labels_path.string(), i,
                                  labels.bytes[i], k_mnist_classes - 1));
    }
  }

  MnistSplit split;
  split.count = images.dims[0];
  split.rows = images.dims[1];
  split.cols = images.dims[2];
  split.images = std::move(images.bytes);
  split.labels = std::move(labels.bytes);
  return split;
}

// An environment variable, or "" when unset.
std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

}  // namespace

Mnist load_mnist(const fs::path& dir) {
  Mnist mnist;
  mnist.train = load_mnist_split(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte");
  mnist.test = load_mnist_split(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
  return mnist;
}

fs::path default_data_dir() {
  // Must agree with data_dir() in vkdrop.sh, which is where the fetch puts the files.
  if (std::string dir = env_or_empty("VKDROP_DATA_DIR"); !dir.empty()) return dir;
  if (std::string cache = env_or_empty("XDG_CACHE_HOME"); !cache.empty()) return fs::path(cache) / "vkdrop" / "mnist";
  if (std::string home = env_or_empty("HOME"); !home.empty()) return fs::path(home) / ".cache" / "vkdrop" / "mnist";
  throw DataError("cannot choose a data directory: none of VKDROP_DATA_DIR, XDG_CACHE_HOME, HOME is set");
}

}  // namespace vkdrop

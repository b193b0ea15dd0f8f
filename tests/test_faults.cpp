// Device faults reported, not suffered: a lost device, device memory that runs out and a submission that
// never finishes, injected through runtime/faults.hpp (lavapipe has none of them on its own), each end
// training with a VulkanError that names what happened and the last good checkpoint, which stays intact
// and resumes to the same bits as a run that never failed.
#include "synthetic.hpp"
#include "temp_dir.hpp"

#include <vkdrop/layers/dropout.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/relu.hpp>
#include <vkdrop/runtime/faults.hpp>

#include <filesystem>
#include <fstream>

using namespace vkdrop;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

Sequential net() {
  return Sequential{Linear(test::k_synthetic_features, 32), ReLU(), Dropout(0.25), Linear(32, test::k_synthetic_classes)};
}

std::string bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

fs::path checkpoint_path(const std::string& name) {
  const fs::path dir = test::temp_dir("vkdrop-test-faults");
  const fs::path path = dir / (name + ".safetensors");
  for (const char* suffix : {"", ".optim", ".optim.old"}) fs::remove(fs::path(path.string() + suffix));
  return path;
}

// Disarms whatever a failed check left armed, so one test's fault never fires in the next.
struct Disarm {
  ~Disarm() { disarm_faults(); }
};

}  // namespace

TEST_CASE("a device lost during an epoch: a VulkanError naming the last checkpoint, which resumes to the same bits") {
  Disarm disarm;
  Context& ctx = test::context();
  const DeviceDataset data = test::synthetic_dataset(ctx, 400, 1, "fault data");
  const fs::path path = checkpoint_path("lost");

  Model uninterrupted(ctx, net(), {test::k_synthetic_features}, test::synthetic_config());
  uninterrupted.train_epoch(data);
  uninterrupted.train_epoch(data);

  Model failing(ctx, net(), {test::k_synthetic_features}, test::synthetic_config());
  failing.train_epoch(data);
  failing.save(path);
  const std::string weights = bytes_of(path), optim = bytes_of(path.string() + ".optim");
  for (const uint64_t nth : {1, 2}) {  // the first submission of the epoch (an upload), and a later one
    INFO("the submission that fails: " << nth);
    arm_fault(FaultPoint::submit, nth);
    try {
      failing.train_epoch(data);
      FAIL("training went on after the device was lost");
    } catch (const VulkanError& e) {
      CHECK(e.result() == VK_ERROR_DEVICE_LOST);
      CHECK_THAT(e.what(), Contains("VK_ERROR_DEVICE_LOST") && Contains("while training epoch 2 on fault data") &&
                               Contains("The last good checkpoint is " + path.string() + " (after epoch 1)"));
    }
  }
  CHECK(bytes_of(path) == weights);
  CHECK(bytes_of(path.string() + ".optim") == optim);

  Model resumed(ctx, net(), {test::k_synthetic_features}, test::synthetic_config());
  resumed.load(path);
  resumed.train_epoch(data);
  const auto want = uninterrupted.state_dict(), got = resumed.state_dict();
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i].values == want[i].values);
}

TEST_CASE("a submission that never finishes ends at the deadline; without a checkpoint the message says so") {
  Disarm disarm;
  Context& ctx = test::context();
  const DeviceDataset data = test::synthetic_dataset(ctx, 400, 2, "hung data");
  Model model(ctx, net(), {test::k_synthetic_features}, test::synthetic_config());
  arm_fault(FaultPoint::wait, 1);
  try {
    model.train_epoch(data);
    FAIL("a hung submission was waited out");
  } catch (const VulkanError& e) {
    CHECK(e.result() == VK_TIMEOUT);
    CHECK_THAT(e.what(), Contains("did not finish a submission within") && Contains("VKDROP_FENCE_TIMEOUT_S") &&
                             Contains("saved and loaded no checkpoint"));
  }
  // The same for an evaluation, after a save: the checkpoint is named.
  const fs::path path = checkpoint_path("hung");
  model.save(path);
  arm_fault(FaultPoint::wait, 1);
  CHECK_THROWS_WITH(model.evaluate(data), Contains("while evaluating on hung data") && Contains(path.string()));
}

TEST_CASE("device memory that runs out is a VulkanError that says what to do") {
  Disarm disarm;
  Context& ctx = test::context();
  arm_fault(FaultPoint::allocate, 1);
  try {
    Model model(ctx, net(), {test::k_synthetic_features}, test::synthetic_config());
    FAIL("the model was built without its memory");
  } catch (const VulkanError& e) {
    CHECK(e.result() == VK_ERROR_OUT_OF_DEVICE_MEMORY);
    CHECK_THAT(e.what(), Contains("Could not allocate") && Contains("smaller model or batch"));
  }
}

TEST_CASE("a device lost while a save reads the weights back writes nothing") {
  Disarm disarm;
  Context& ctx = test::context();
  Model model(ctx, net(), {test::k_synthetic_features}, test::synthetic_config());
  const fs::path path = checkpoint_path("save");
  arm_fault(FaultPoint::submit, 1);
  CHECK_THROWS_WITH(model.save(path), Contains("VK_ERROR_DEVICE_LOST") &&
                                          Contains("while reading the weights back to save them to " + path.string()));
  CHECK_FALSE(fs::exists(path));
  CHECK_FALSE(fs::exists(path.string() + ".optim"));
}

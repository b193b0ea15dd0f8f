// kill -9 at random moments: a child process resumes from the checkpoint (as a user would after a crash),
// trains and saves in a loop, and is killed after a random delay, 20 times over on the same PATH, so kills
// land in training, in the middle of saves and right after crashed ones. After every kill the pair on disk
// must load; at the end it must resume to the bits of a run that never crashed, and the next successful save
// must leave no temporary file behind. (The fixed kill points are test_model's crash-point tests.)
#include "synthetic.hpp"
#include "temp_dir.hpp"

#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/relu.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

using namespace vkdrop;
namespace fs = std::filesystem;

namespace {

// Wide enough that a save writes a few MB (kills land inside it), a single step per epoch so saves are often.
Sequential net() {
  return Sequential{Linear(test::k_synthetic_features, 512), ReLU(), Linear(512, 512), ReLU(),
                    Linear(512, test::k_synthetic_classes)};
}

TrainConfig config() {
  TrainConfig c = test::synthetic_config();
  c.batch_size = 32;
  return c;
}

constexpr int64_t k_samples = 32;  // one batch: one step per epoch

// The child: resume if there is a checkpoint, then train and save until killed, writing a byte to `saved`
// after each save. Never returns.
[[noreturn]] void train_until_killed(const fs::path& path, int saved) {
  int code = 0;
  try {
    Context ctx(ContextOptions{.validation = false});
    const DeviceDataset data = test::synthetic_dataset(ctx, k_samples, 4, "kill data");
    Model model(ctx, net(), {test::k_synthetic_features}, config());
    if (fs::exists(path)) model.load(path);
    for (;;) {
      model.train_epoch(data);
      model.save(path);
      if (write(saved, "s", 1) != 1) code = 4;
    }
  } catch (...) {
    code = 3;  // a checkpoint that did not load: the parent sees the exit status, not a kill
  }
  _exit(code);
}

std::vector<fs::path> temporaries(const fs::path& dir) {
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().find(".tmp-") != std::string::npos) found.push_back(entry.path());
  return found;
}

}  // namespace

TEST_CASE("kill -9 at random moments, 20 times in a row: the pair always resumes, to the bits of an unbroken run") {
  const fs::path dir = test::temp_dir("vkdrop-test-kills");
  const fs::path path = dir / "model.safetensors";

  // Children first, before this process touches Vulkan: a forked child must start its own driver.
  std::mt19937 rng(12345);
  int killed = 0;
  for (int run = 0; run < 20; ++run) {
    int pipe_ends[2];
    REQUIRE(pipe(pipe_ends) == 0);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      close(pipe_ends[0]);
      train_until_killed(path, pipe_ends[1]);
    }
    close(pipe_ends[1]);
    // Once the child has saved (its start-up, which depends on the machine, is behind it), a random moment
    // within the next few train-and-save cycles.
    char byte = 0;
    const bool started = read(pipe_ends[0], &byte, 1) == 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    kill(child, SIGKILL);
    close(pipe_ends[0]);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    INFO("run " << run << ": the child resumes from what the runs before left");
    REQUIRE(started);  // else the child ended before its first save: it could not load the pair
    killed += WIFSIGNALED(status) ? 1 : 0;
  }
  CHECK(killed == 20);

  Context& ctx = test::context();
  const DeviceDataset data = test::synthetic_dataset(ctx, k_samples, 4, "kill data");
  Model resumed(ctx, net(), {test::k_synthetic_features}, config());
  REQUIRE(fs::exists(path));
  resumed.load(path);
  const uint64_t epochs = resumed.epoch();
  INFO("the pair left holds epoch " << epochs);
  REQUIRE(epochs >= 1);
  resumed.train_epoch(data);

  Model unbroken(ctx, net(), {test::k_synthetic_features}, config());
  for (uint64_t e = 0; e <= epochs; ++e) unbroken.train_epoch(data);
  const auto want = unbroken.state_dict(), got = resumed.state_dict();
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i].values == want[i].values);

  resumed.save(path);
  CHECK(temporaries(dir).empty());
}

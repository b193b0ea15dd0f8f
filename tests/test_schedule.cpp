// Learning-rate and momentum schedules: the GPU kernel against reference/schedule.hpp.
#include "gpu.hpp"

#include <vkdrop/ops/schedule.hpp>
#include <vkdrop/reference/schedule.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

using namespace vkdrop;

namespace {

// Runs the schedule kernel at `step` and returns [lr, momentum].
std::pair<double, double> on_gpu(const Schedule& s, uint64_t step) {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 16);
  Tensor hyper = make_tensor(arena, {4}, DType::f32, "hyper");
  Tensor counter = make_tensor(arena, {2}, DType::u32, "step");
  std::vector<uint32_t> words{uint32_t(step), uint32_t(step >> 32)};
  upload(ctx, counter, std::span<const uint32_t>(words));
  Recorder rec(ctx);
  ops::schedule(rec, hyper, counter, s);
  rec.run();
  const auto h = download_f32(ctx, hyper);
  return {h[0], h[1]};
}

}  // namespace

TEST_CASE("every schedule matches its reference at every kind of step") {
  Schedule s;
  s.lr = 0.1;
  s.gamma = 0.5;
  s.step_epochs = 3;
  s.total_epochs = 10;
  s.lr_min = 0.001;
  s.momentum = 0.99;
  s.momentum_start = 0.5;
  s.ramp_epochs = 4;
  s.steps_per_epoch = 100;
  for (LrDecay decay : {LrDecay::Constant, LrDecay::Step, LrDecay::Exponential, LrDecay::Cosine}) {
    s.decay = decay;
    for (uint64_t step : {0ull, 1ull, 99ull, 100ull, 299ull, 300ull, 555ull, 1000ull, 5000ull}) {
      INFO("decay " << static_cast<int>(decay) << " step " << step);
      const auto [lr, momentum] = on_gpu(s, step);
      CHECK(lr == Approx(ref::scheduled_lr(s, step)).epsilon(1e-5).margin(1e-9));
      CHECK(momentum == Approx(ref::scheduled_momentum(s, step)).epsilon(1e-6));
    }
  }
}

TEST_CASE("schedule reference: the published shapes") {
  Schedule s;
  s.steps_per_epoch = 10;
  s.decay = LrDecay::Step;
  s.lr = 1;
  s.gamma = 0.1;
  s.step_epochs = 2;
  CHECK(ref::scheduled_lr(s, 19) == 1.0);                   // epoch 1
  CHECK(ref::scheduled_lr(s, 20) == Approx(0.1));           // epoch 2: first decay
  s.decay = LrDecay::Cosine;
  s.total_epochs = 4;
  s.lr_min = 0;
  CHECK(ref::scheduled_lr(s, 20) == Approx(0.5));           // half way
  CHECK(ref::scheduled_lr(s, 40) == Approx(0.0).margin(1e-12));
  CHECK(ref::scheduled_lr(s, 400) == Approx(0.0).margin(1e-12));  // stays at the end
  s.ramp_epochs = 2;
  s.momentum_start = 0.5;
  s.momentum = 0.9;
  CHECK(ref::scheduled_momentum(s, 10) == Approx(0.7));
  CHECK(ref::scheduled_momentum(s, 1000) == Approx(0.9));
}

TEST_CASE("bad schedules are refused") {
  Schedule s;
  s.lr = -1;
  CHECK_THROWS_AS(s.validate(), ArgumentError);
  s = Schedule{};
  s.decay = LrDecay::Exponential;
  s.gamma = 0;
  CHECK_THROWS_AS(s.validate(), ArgumentError);
  s = Schedule{};
  s.momentum = 1.0;
  CHECK_THROWS_AS(s.validate(), ArgumentError);
}

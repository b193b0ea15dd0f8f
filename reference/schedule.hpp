#pragma once
// Learning-rate and momentum schedules, as functions of the optimizer step. The GPU evaluates the same
// formulas (shaders/schedule.comp) at the start of every recorded step, so a schedule never needs a
// re-recording or a host write. Epochs here are whole epochs done: epoch = step / steps_per_epoch.
//
//   constant     lr
//   step         lr · gamma^floor(epoch / step_epochs)                  (torch.optim.lr_scheduler.StepLR)
//   exponential  lr · gamma^epoch                                       (ExponentialLR)
//   cosine       lr_min + (lr − lr_min)·(1 + cos(π·min(step, T)/T))/2, T = total_epochs·steps_per_epoch
//                (CosineAnnealingLR, evaluated every step)
//   momentum     momentum_start + (momentum − momentum_start)·min(1, step / (ramp_epochs·steps_per_epoch))
//                (Srivastava et al. 2014 ramp momentum from 0.5 to 0.99); no ramp when ramp_epochs = 0.

#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>

namespace vkdrop {

enum class LrDecay : uint32_t { Constant = 0, Step = 1, Exponential = 2, Cosine = 3 };

struct Schedule {
  LrDecay decay = LrDecay::Constant;
  double lr = 0.1;              // the base learning rate
  double gamma = 0.1;           // Step, Exponential: the factor per decay
  uint32_t step_epochs = 30;    // Step: epochs between decays
  uint32_t total_epochs = 100;  // Cosine: epochs to reach lr_min
  double lr_min = 0;            // Cosine
  double momentum = 0.9;        // the (final) momentum
  double momentum_start = 0.5;  // where the ramp starts
  double ramp_epochs = 0;       // 0: constant momentum
  uint32_t steps_per_epoch = 1;

  void validate() const {
    auto fail = [](const std::string& what) { throw ArgumentError("schedule: " + what); };
    if (!(lr > 0) || !std::isfinite(lr)) fail(fmt::format("learning rate must be positive, got {}", lr));
    if (steps_per_epoch == 0) fail("steps_per_epoch must be positive");
    if ((decay == LrDecay::Step || decay == LrDecay::Exponential) && !(gamma > 0 && gamma <= 1))
      fail(fmt::format("gamma must be in (0, 1], got {}", gamma));
    if (decay == LrDecay::Step && step_epochs == 0) fail("step_epochs must be positive");
    if (decay == LrDecay::Cosine && total_epochs == 0) fail("total_epochs must be positive");
    if (decay == LrDecay::Cosine && !(lr_min >= 0 && lr_min <= lr)) fail(fmt::format("lr_min must be in [0, lr], got {}", lr_min));
    if (!(momentum >= 0 && momentum < 1)) fail(fmt::format("momentum must be in [0, 1), got {}", momentum));
    if (!(momentum_start >= 0 && momentum_start < 1)) fail(fmt::format("momentum_start must be in [0, 1), got {}", momentum_start));
    if (!(ramp_epochs >= 0)) fail(fmt::format("ramp_epochs must be >= 0, got {}", ramp_epochs));
  }
};

namespace ref {

inline double scheduled_lr(const Schedule& s, uint64_t step) {
  const uint64_t epoch = step / s.steps_per_epoch;
  switch (s.decay) {
    case LrDecay::Constant: return s.lr;
    case LrDecay::Step: return s.lr * std::pow(s.gamma, static_cast<double>(epoch / s.step_epochs));
    case LrDecay::Exponential: return s.lr * std::pow(s.gamma, static_cast<double>(epoch));
    case LrDecay::Cosine: {
      const double total = static_cast<double>(s.total_epochs) * s.steps_per_epoch;
      const double t = std::min(static_cast<double>(step), total) / total;
      return s.lr_min + (s.lr - s.lr_min) * (1 + std::cos(std::numbers::pi * t)) / 2;
    }
  }
  return s.lr;
}

inline double scheduled_momentum(const Schedule& s, uint64_t step) {
  if (s.ramp_epochs <= 0) return s.momentum;
  const double t = std::min(1.0, static_cast<double>(step) / (s.ramp_epochs * s.steps_per_epoch));
  return s.momentum_start + (s.momentum - s.momentum_start) * t;
}

}  // namespace ref
}  // namespace vkdrop

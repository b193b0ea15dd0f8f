#pragma once
// An optimizer updates every parameter of a model in one recorded step. The parameters, their gradients and
// each per-parameter state slot the optimizer declares ("momentum_buffer", "exp_avg") are flat slices with
// one layout (train/parameter_store.hpp), so an update is one dispatch over all of them.
//
// A new optimizer is one new class: derive from Optimizer, name its state as PyTorch does (checkpoints save
// it under those names), record its update through ops/. Nothing else changes.

#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <concepts>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace vkdrop {

// What an update runs on. All flat f32 slices have the parameters' shape (P).
struct OptimizerTensors {
  const Tensor& parameters;       // (P)
  const Tensor& gradients;        // (P)
  std::span<const Tensor> state;  // one (P) slice per state_names() entry, zero before the first step
  const Tensor& hyper;            // (4) f32: [lr, momentum, 0, 0], written by the schedule every step
  const Tensor& step;             // (2) u32: steps taken before this one (read, never advanced)
  // The max-norm constraint (Srivastava et al. 2014) after the update: every row of each of these (units,
  // fan-in) views of `parameters` is capped at L2 norm `max_norm`; none when empty or max_norm is 0. An
  // optimizer may fold it into its update (SGD does where the device allows); record_max_norm applies it alone.
  std::span<const Tensor> max_norm_rows = {};
  float max_norm = 0;
};

// The max-norm constraint of `t` as passes of its own, after an update that did not fold it in.
void record_max_norm(Recorder& rec, const OptimizerTensors& t);

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // The name checkpoints record ("SGD", "Adam"): a resume refuses optimizer state of another kind.
  virtual std::string name() const = 0;
  // Throws ArgumentError for hyperparameters PyTorch would refuse; a Model calls it when it is built.
  virtual void validate() const = 0;
  // PyTorch's names of the per-parameter state, in order: {"momentum_buffer"}, {"exp_avg", "exp_avg_sq"}.
  virtual std::vector<std::string> state_names() const = 0;
  // Records one update of every parameter, then the max-norm constraint of t.
  virtual void record_step(Recorder& rec, const OptimizerTensors& t) const = 0;
  virtual std::unique_ptr<Optimizer> clone() const = 0;
};

// An optimizer held by value, so that `config.optimizer = Adam{};` reads as it does in PyTorch.
class AnyOptimizer {
 public:
  template <typename O>
    requires std::derived_from<std::remove_cvref_t<O>, Optimizer>
  AnyOptimizer(O&& optimizer)  // NOLINT: implicit on purpose
      : impl_(std::make_unique<std::remove_cvref_t<O>>(std::forward<O>(optimizer))) {}
  AnyOptimizer(const AnyOptimizer& other) : impl_(other.impl_->clone()) {}
  AnyOptimizer& operator=(const AnyOptimizer& other) {
    if (this != &other) impl_ = other.impl_->clone();
    return *this;
  }
  AnyOptimizer(AnyOptimizer&&) noexcept = default;
  AnyOptimizer& operator=(AnyOptimizer&&) noexcept = default;

  const Optimizer& operator*() const { return *impl_; }
  const Optimizer* operator->() const { return impl_.get(); }
  // The optimizer as an O, or nullptr when it is another kind.
  template <typename O>
  const O* get_if() const {
    return dynamic_cast<const O*>(impl_.get());
  }

 private:
  std::unique_ptr<Optimizer> impl_;
};

}  // namespace vkdrop

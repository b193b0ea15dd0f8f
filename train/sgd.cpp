#include <vkdrop/train/sgd.hpp>

#include <vkdrop/ops/optimizers.hpp>
#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace vkdrop {

namespace {

ops::SgdConfig config_of(const SGD& sgd) { return {static_cast<float>(sgd.weight_decay), sgd.nesterov}; }

// The element_count(shape) elements of a flat (P) tensor from element `begin` on, as a tensor of that shape.
Tensor part(const Tensor& flat, int64_t begin, const Shape& shape) {
  const uint64_t bytes = static_cast<uint64_t>(element_count(shape)) * sizeof(float);
  return Tensor{flat.slice.sub(static_cast<uint64_t>(begin) * sizeof(float), bytes), shape, DType::f32, flat.name};
}

}  // namespace

void SGD::validate() const { ops::check_config(config_of(*this)); }

// With max-norm on a device that runs the fused kernel, each capped weight matrix is updated and capped in one
// pass (ops::sgd_step_max_norm) and the parameters between them (biases) by sgd_step; otherwise one sgd_step
// over all parameters, then the max-norm passes. Both compute the same values.
void SGD::record_step(Recorder& rec, const OptimizerTensors& t) const {
  const ops::SgdConfig config = config_of(*this);
  const Tensor& velocity = t.state[0];
  if (!(t.max_norm > 0) || t.max_norm_rows.empty() || !ops::fused_max_norm_runs(rec.context().info())) {
    ops::sgd_step(rec, t.parameters, t.gradients, velocity, t.hyper, config);
    record_max_norm(rec, t);
    return;
  }
  // Where each capped matrix lies in the flat parameters, in order.
  struct Capped {
    int64_t begin;
    const Tensor* rows;
  };
  std::vector<Capped> capped;
  for (const Tensor& rows : t.max_norm_rows) {
    if (rows.slice.buffer != t.parameters.slice.buffer || rows.slice.offset < t.parameters.slice.offset ||
        (rows.slice.offset - t.parameters.slice.offset) % sizeof(float) != 0) {
      throw Error("SGD: a max-norm view does not lie inside the parameters (a bug in the parameter store)");
    }
    capped.push_back({static_cast<int64_t>((rows.slice.offset - t.parameters.slice.offset) / sizeof(float)), &rows});
  }
  std::sort(capped.begin(), capped.end(), [](const Capped& a, const Capped& b) { return a.begin < b.begin; });
  const auto plain = [&](int64_t begin, int64_t end) {
    if (end <= begin) return;
    const Shape shape{end - begin};
    ops::sgd_step(rec, part(t.parameters, begin, shape), part(t.gradients, begin, shape), part(velocity, begin, shape),
                  t.hyper, config);
  };
  // Each buffer of the store starts at an offset a shader may bind, and the padding after it stays zero under
  // any update: the plain ranges start where the next binding may, and the padding goes with them.
  const int64_t align = std::max<int64_t>(1, static_cast<int64_t>(rec.context().info().binding_offset_alignment() / sizeof(float)));
  int64_t done = 0;
  for (const Capped& c : capped) {
    plain(done, c.begin);
    const Shape& shape = c.rows->shape;
    ops::sgd_step_max_norm(rec, *c.rows, part(t.gradients, c.begin, shape), part(velocity, c.begin, shape), t.hyper,
                           config, t.max_norm);
    done = (c.begin + element_count(shape) + align - 1) / align * align;
  }
  plain(done, t.parameters.numel());
}

}  // namespace vkdrop

#include <vkdrop/train/optimizer.hpp>

#include <vkdrop/ops/optimizers.hpp>

namespace vkdrop {

void record_max_norm(Recorder& rec, const OptimizerTensors& t) {
  if (!(t.max_norm > 0)) return;
  for (const Tensor& rows : t.max_norm_rows) ops::max_norm(rec, rows, t.max_norm);
}

}  // namespace vkdrop

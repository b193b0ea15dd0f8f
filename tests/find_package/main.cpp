// An outside project: find_package(vkdrop), link vkdrop::vkdrop, include <vkdrop/vkdrop.hpp>, run a model.
#include <vkdrop/vkdrop.hpp>

#include <cmath>
#include <cstdio>

int main() {
  vkdrop::Sequential net{vkdrop::Linear(4, 3), vkdrop::ReLU(), vkdrop::Linear(3, 2)};
  vkdrop::Context ctx;
  vkdrop::TrainConfig config;
  config.batch_size = 2;
  vkdrop::Model model(ctx, net, {4}, config);
  const std::vector<float> x(8, 0.5f);
  const auto p = model.predict(x, 2);
  if (p.size() != 4 || std::abs(p[0] + p[1] - 1.0f) > 1e-5f) {
    std::fprintf(stderr, "unexpected probabilities\n");
    return 1;
  }
  std::printf("installed vkdrop works: %s\n", ctx.info().name.c_str());
  return 0;
}

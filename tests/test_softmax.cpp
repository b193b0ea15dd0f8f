// Class probabilities for predict(): softmax per row against a CPU loop in double, and its accumulating
// form (Monte Carlo dropout sums the probabilities of replayed passes).
#include "gpu.hpp"

#include <vkdrop/ops/softmax.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/recorder.hpp>

#include <cmath>

using namespace vkdrop;

TEST_CASE("softmax matches a CPU loop, stays finite for huge logits, and checks shapes") {
  Context& ctx = test::context();
  for (auto [rows, classes] : {std::pair<int64_t, int64_t>{1, 1}, {7, 10}, {129, 33}, {3, 1000}}) {
    INFO(rows << " x " << classes);
    Arena arena(ctx, 1 << 20);
    Tensor logits = make_tensor(arena, {rows, classes}), probs = make_tensor(arena, {rows, classes});
    auto x = test::random_floats(static_cast<size_t>(rows * classes), 4, -20.0f, 20.0f);
    if (x.size() > 2) x[1] = 1000.0f, x[2] = -1000.0f;  // max subtraction keeps these finite
    upload(ctx, logits, std::span<const float>(x));
    // Write ignores what was there, even NaN.
    upload(ctx, probs, std::span<const float>(std::vector<float>(x.size(), std::nanf(""))));
    Recorder rec(ctx);
    ops::softmax(rec, probs, logits);
    rec.run();
    std::vector<float> want(x.size());
    for (int64_t r = 0; r < rows; ++r) {
      const float* z = &x[static_cast<size_t>(r * classes)];
      double m = z[0], sum = 0;
      for (int64_t c = 1; c < classes; ++c) m = std::max(m, double(z[c]));
      for (int64_t c = 0; c < classes; ++c) sum += std::exp(z[c] - m);
      for (int64_t c = 0; c < classes; ++c) want[static_cast<size_t>(r * classes + c)] = float(std::exp(z[c] - m) / sum);
    }
    const auto once = download_f32(ctx, probs);
    test::expect_close(once, want, 1e-6, 1e-5, "softmax forward probs");

    // Accumulate adds to what is there: two replays on top of the written probabilities give 3 p.
    Recorder add(ctx);
    ops::softmax(add, probs, logits, ops::SoftmaxOutput::Accumulate);
    add.run(2);
    std::vector<float> thrice(once.size());
    for (size_t i = 0; i < once.size(); ++i) thrice[i] = once[i] + once[i] + once[i];
    test::expect_bits(download_f32(ctx, probs), thrice, "softmax accumulate");
  }
  Arena arena(ctx, 1 << 16);
  Tensor a = make_tensor(arena, {2, 3}), b = make_tensor(arena, {3, 2}), flat = make_tensor(arena, {6});
  Recorder rec(ctx);
  CHECK_THROWS_AS(ops::softmax(rec, b, a), ShapeError);
  CHECK_THROWS_AS(ops::softmax(rec, flat, flat), ShapeError);
}

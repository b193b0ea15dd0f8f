// Linear run as the Model runs it, on the buffers it declares: its products may split K and its bias gradient
// its rows through its scratch (the partials of ops::matmul and ops::bias_backward), and forward and backward
// must still match reference/linear.hpp.
//
// Tolerance as in test_matmul.cpp: 1e-5 * sqrt(K) + 1e-5 relative, for inputs uniform in [-1, 1].
#include "gpu.hpp"

#include <vkdrop/layers/linear.hpp>
#include <vkdrop/ops/elementwise.hpp>
#include <vkdrop/ops/matmul.hpp>
#include <vkdrop/reference/linear.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

using namespace vkdrop;

namespace {

// One forward and backward of Linear(in, out) at `batch` rows, every tensor from layer.buffers(), against
// the reference; returns the dispatches recorded, so a caller can tell that a product split.
size_t check_linear(int64_t batch, int64_t in, int64_t out) {
  Context& ctx = test::context();
  const std::string what = fmt::format("Linear({}, {}) at batch {}", in, out, batch);
  INFO(what);
  const Linear layer(in, out);
  const std::vector<BufferSpec> specs = layer.buffers({batch, in});
  REQUIRE(specs.size() == 3);
  REQUIRE(specs[2].kind == BufferKind::Scratch);
  CHECK(specs[2].shape == Shape{std::max<int64_t>({1, ops::matmul_partials_elements(batch, out, in),
                                                   ops::matmul_partials_elements(batch, in, out),
                                                   ops::matmul_partials_elements(out, in, batch),
                                                   ops::bias_backward_partials_elements(batch, out)})});

  Arena arena(ctx, 8 << 20);
  LayerTensors t;
  t.input = make_tensor(arena, {batch, in}, DType::f32, "x");
  t.output = make_tensor(arena, {batch, out}, DType::f32, "y");
  t.grad_input = make_tensor(arena, {batch, in}, DType::f32, "dx");
  t.grad_output = make_tensor(arena, {batch, out}, DType::f32, "dy");
  for (size_t i = 0; i < 2; ++i) {
    t.params.push_back(make_tensor(arena, specs[i].shape, DType::f32, specs[i].name));
    t.grads.push_back(make_tensor(arena, specs[i].shape, DType::f32, "grad " + specs[i].name));
  }
  t.scratch.push_back(make_tensor(arena, specs[2].shape, DType::f32, specs[2].name));

  const auto x = test::random_floats(size_t(batch * in), 21), w = test::random_floats(size_t(out * in), 22);
  const auto b = test::random_floats(size_t(out), 23), dy = test::random_floats(size_t(batch * out), 24);
  upload(ctx, t.input, std::span<const float>(x));
  upload(ctx, t.params[0], std::span<const float>(w));
  upload(ctx, t.params[1], std::span<const float>(b));
  upload(ctx, t.grad_output, std::span<const float>(dy));

  Recorder rec(ctx);
  layer.forward(rec, t, PassState{});
  layer.backward(rec, t, PassState{});
  rec.run();

  const int B = int(batch), I = int(in), O = int(out);
  std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end()), bd(b.begin(), b.end()), dyd(dy.begin(), dy.end());
  std::vector<double> y(static_cast<size_t>(batch * out)), dx(static_cast<size_t>(batch * in));
  std::vector<double> dw(static_cast<size_t>(out * in)), db(static_cast<size_t>(out));
  ref::linear_forward(y.data(), xd.data(), wd.data(), bd.data(), B, I, O);
  ref::linear_backward(dx.data(), dw.data(), db.data(), dyd.data(), xd.data(), wd.data(), B, I, O);
  const auto as_float = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  const auto atol = [](int64_t k) { return 1e-5 * std::sqrt(double(k)); };
  test::expect_close(download_f32(ctx, t.output), as_float(y), atol(in), 1e-5, what + ", y");
  test::expect_close(download_f32(ctx, t.grad_input), as_float(dx), atol(out), 1e-5, what + ", dx");
  test::expect_close(download_f32(ctx, t.grads[0]), as_float(dw), atol(batch), 1e-5, what + ", dW");
  test::expect_close(download_f32(ctx, t.grads[1]), as_float(db), atol(batch), 1e-5, what + ", db");
  return rec.dispatch_count();
}

}  // namespace

TEST_CASE("Linear splits a long K through its declared scratch and matches the reference") {
  // Four dispatches unsplit: y, dx, dW, db. A wide input into few outputs splits the forward product; a
  // large batch into a small layer splits the weight gradient (K = the batch) and the bias gradient's rows.
  // Each split adds a pass.
  const bool idle_cores = !test::context().info().is_cpu() || std::thread::hardware_concurrency() >= 2;
  const size_t wide = check_linear(2, 4099, 3);
  const size_t tall = check_linear(4100, 3, 2);
  const size_t plain = check_linear(64, 100, 30);  // no product long enough to split
  CHECK(plain == 4);
  if (idle_cores) {
    CHECK(wide == 5);
    CHECK(tall == 6);
  }
}

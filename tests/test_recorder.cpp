// Recording once and replaying: dispatches against CPU loops, submissions in flight, derived barriers,
// timestamps.
#include "gpu.hpp"

#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/host_buffer.hpp>
#include <vkdrop/runtime/kernel.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/spirv_reflect.hpp>
#include <vkdrop/runtime/shader_registry.hpp>
#include <vkdrop/runtime/tensor.hpp>

using namespace vkdrop;

namespace {

struct AxpyParams {
  uint32_t n;
  float alpha;
};

std::array<uint32_t, 3> groups_for(int64_t n, uint32_t local) {
  return {static_cast<uint32_t>((n + local - 1) / local), 1, 1};
}

}  // namespace

TEST_CASE("the interface of a kernel is read from its SPIR-V") {
  ShaderInterface axpy = reflect_compute_shader(embedded_shader("axpy").spirv, "axpy");
  REQUIRE(axpy.bindings.size() == 2);
  CHECK(axpy.bindings[0].name == "X");  // an anonymous instance is named after its block
  CHECK_FALSE(axpy.bindings[0].writes);  // readonly x
  CHECK(axpy.bindings[0].reads);
  CHECK(axpy.bindings[1].writes);  // y += ...
  CHECK(axpy.bindings[1].reads);
  CHECK(axpy.push_constant_bytes == 8);

  ShaderInterface copy = reflect_compute_shader(embedded_shader("copy").spirv, "copy");
  REQUIRE(copy.bindings.size() == 4);  // x, y as floats, then as quads
  CHECK_FALSE(copy.bindings[1].reads);  // writeonly y
  CHECK_FALSE(copy.bindings[3].reads);  // writeonly y4
  CHECK(copy.push_constant_bytes == 4);

  std::vector<uint32_t> garbage = {1, 2, 3, 4, 5, 6};
  CHECK_THROWS_AS(reflect_compute_shader(garbage, "garbage"), ArgumentError);
  CHECK_THROWS_AS(embedded_shader("no_such_shader"), ArgumentError);
}

TEST_CASE("texel-buffer bindings are read from the SPIR-V and bound as views of whole texels") {
  ShaderInterface sgd = reflect_compute_shader(embedded_shader("sgd_step").spirv, "sgd_step");
  REQUIRE(sgd.bindings.size() == 6);
  CHECK_FALSE(sgd.bindings[0].texel_buffer());  // w, written through a storage buffer
  CHECK(sgd.bindings[1].texel_components == 1);  // g: r32f imageBuffer, readonly
  CHECK_FALSE(sgd.bindings[1].texel_uint);
  CHECK(sgd.bindings[1].reads);
  CHECK_FALSE(sgd.bindings[1].writes);
  CHECK(sgd.bindings[4].texel_components == 1);  // w again, read
  ShaderInterface matmul = reflect_compute_shader(embedded_shader("matmul").spirv, "matmul");
  REQUIRE(matmul.bindings.size() == 12);
  CHECK(matmul.bindings[2].texel_components == 4);  // X as rgba32f quads
  CHECK(matmul.bindings[7].texel_components == 1);  // X as r32f
  CHECK_FALSE(matmul.bindings[9].texel_buffer());    // the step, a storage buffer
  CHECK(matmul.bindings[11].texel_components == 4);  // the epilogue's gate as quads
  CHECK_FALSE(matmul.bindings[2].texel_uint);
  ShaderInterface pool = reflect_compute_shader(embedded_shader("max_pool2d_backward").spirv, "max_pool2d_backward");
  REQUIRE(pool.bindings.size() == 3);
  CHECK(pool.bindings[1].texel_components == 1);  // the forward's choices: r32ui uimageBuffer
  CHECK(pool.bindings[1].texel_uint);

  Context& ctx = test::context();
  Arena arena(ctx, 1 << 20);
  Tensor w = make_tensor(arena, {64}), g = make_tensor(arena, {64}), v = make_tensor(arena, {64});
  Tensor hyper = make_tensor(arena, {4});
  struct SgdParams {
    uint32_t n;
    float weight_decay;
    uint32_t nesterov;
  };
  const Kernel& sgd_step = ctx.kernel("sgd_step", std::vector<uint32_t>{64});
  Recorder rec(ctx);
  const uint64_t align = ctx.info().min_texel_buffer_offset_alignment;
  if (align > 4) {  // a view must start at a multiple of the device's alignment
    CHECK_THROWS_AS(rec.dispatch(sgd_step, {w.slice, g.slice.sub(4, 32), v.slice, hyper.slice, w.slice, v.slice},
                                 SgdParams{8, 0, 0}, {1, 1, 1}),
                    ArgumentError);
  }
  // An rgba32f binding needs at least one whole quad.
  const std::vector<uint32_t> spec = {ctx.info().subgroup_size, 1, 1, 1, 0, 4, 4, 1, 1, 1, 0, 0};
  const BufferSlice three_floats = g.slice.sub(0, 12);
  CHECK_THROWS_WITH(rec.dispatch(ctx.kernel("matmul", spec),
                                 {w.slice, w.slice, three_floats, g.slice, g.slice, g.slice, g.slice, g.slice, g.slice,
                                  g.slice, g.slice, g.slice},
                                 std::array<uint32_t, 16>{}, {1, 1, 1}),
                    Catch::Matchers::Contains("quad") || Catch::Matchers::Contains("texel"));
}

TEST_CASE("a dispatch computes what the CPU loop computes") {
  Context& ctx = test::context();
  Arena arena(ctx, 8 << 20);
  for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{129}, int64_t{100000}}) {
    INFO("n = " << n);
    Tensor x = make_tensor(arena, {n}), y = make_tensor(arena, {n});
    auto xs = test::random_floats(static_cast<size_t>(n), 1), ys = test::random_floats(static_cast<size_t>(n), 2);
    upload(ctx, x, std::span<const float>(xs));
    upload(ctx, y, std::span<const float>(ys));
    const Kernel& axpy = ctx.kernel("axpy", std::vector<uint32_t>{64});
    Recorder rec(ctx);
    rec.dispatch(axpy, {x.slice, y.slice}, AxpyParams{static_cast<uint32_t>(n), 0.5f}, groups_for(n, 64));
    rec.run();
    std::vector<float> want(ys);
    for (size_t i = 0; i < want.size(); ++i) want[i] += 0.5f * xs[i];
    test::expect_close(download_f32(ctx, y), want, 0, 0, "axpy forward, y");
  }
}

TEST_CASE("one recording replayed 100 times accumulates 100 times") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 20);
  const int64_t n = 1000;
  Tensor x = make_tensor(arena, {n}), y = make_tensor(arena, {n});
  Tensor counter = make_tensor(arena, {2}, DType::u32, "step");
  // Small integers: every partial sum is exact in f32, so the comparison can be exact.
  std::vector<float> xs(n);
  for (int64_t i = 0; i < n; ++i) xs[i] = static_cast<float>(i % 17 - 8);
  upload(ctx, x, std::span<const float>(xs));

  Recorder rec(ctx);
  rec.fill(y.slice, 0);
  rec.fill(counter.slice, 0);
  rec.finish();
  rec.run();

  Recorder step(ctx);
  struct CounterParams {
    uint32_t index, amount;
  };
  step.dispatch(ctx.kernel("axpy", std::vector<uint32_t>{64}), {x.slice, y.slice},
                AxpyParams{static_cast<uint32_t>(n), 1.0f}, groups_for(n, 64));
  step.dispatch(ctx.kernel("counter_add"), {counter.slice}, CounterParams{0, 1}, {1, 1, 1});
  step.finish();
  for (int i = 0; i < 60; ++i) step.submit();  // one at a time...
  step.run(40);                                // ...and 40 in one submission
  std::vector<float> want(xs);
  for (float& w : want) w *= 100;
  test::expect_close(download_f32(ctx, y), want, 0, 0, "y after 100 replays");
  CHECK(download_u32(ctx, counter) == std::vector<uint32_t>{100, 0});
  CHECK_THROWS_AS(step.copy(x.slice, y.slice), ArgumentError);  // finished recordings stay as they are
}

TEST_CASE("a recording queued twice at once runs twice, in order; the host reads a report while the next runs") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 20);
  Tensor counter = make_tensor(arena, {2}, DType::u32, "step");
  upload(ctx, counter, std::span<const uint32_t>(std::vector<uint32_t>{0, 0}));
  struct CounterParams {
    uint32_t index, amount;
  };
  Recorder step(ctx, RecorderOptions{.max_in_flight = 2});
  step.dispatch(ctx.kernel("counter_add"), {counter.slice}, CounterParams{0, 1}, {1, 1, 1});
  step.finish();
  HostBuffer readback(ctx, 2 * 8);
  std::array<std::unique_ptr<Recorder>, 2> reports;
  for (uint64_t slot = 0; slot < 2; ++slot) {
    reports[slot] = std::make_unique<Recorder>(ctx);
    reports[slot]->copy(counter.slice, readback.slice().sub(slot * 8, 8));
    reports[slot]->finish();
  }
  // Chunk k = k + 1 steps, reported into slot k % 2; chunk k + 1 is queued before chunk k is read.
  uint32_t total = 0;
  std::vector<uint32_t> seen, want;
  step.submit(1);
  reports[0]->submit();
  for (uint32_t k = 0; k < 6; ++k) {
    if (k + 1 < 6) {
      step.submit(k + 2);
      reports[(k + 1) % 2]->submit();
    }
    reports[k % 2]->wait();
    uint32_t value[2];
    readback.read(k % 2 * 8, value, 2);
    seen.push_back(value[0]);
    want.push_back(total += k + 1);
  }
  step.wait();
  CHECK_FALSE(step.pending());
  CHECK(seen == want);
  CHECK(download_u32(ctx, counter) == std::vector<uint32_t>{21, 0});

  uint32_t word;
  CHECK_THROWS_AS(readback.read(13, &word, 1), ArgumentError);  // past the end
  CHECK_THROWS_AS(HostBuffer(ctx, 0), ArgumentError);
  CHECK_THROWS_AS(Recorder(ctx, RecorderOptions{.max_in_flight = 0}), ArgumentError);
}

TEST_CASE("barriers are inserted for dependencies and only for them") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 20);
  const int64_t n = 256;
  Tensor a = make_tensor(arena, {n}), b = make_tensor(arena, {n}), c = make_tensor(arena, {n}),
         d = make_tensor(arena, {n});
  std::vector<float> ones(n, 1.0f);
  upload(ctx, a, std::span<const float>(ones));
  const Kernel& copy = ctx.kernel("copy", std::vector<uint32_t>{64});
  const Kernel& axpy = ctx.kernel("axpy", std::vector<uint32_t>{64});
  const uint32_t n32 = static_cast<uint32_t>(n);

  Recorder rec(ctx);
  rec.dispatch(copy, {a.slice, b.slice, a.slice, b.slice}, n32, groups_for(n, 64));  // b = a
  rec.dispatch(copy, {a.slice, c.slice, a.slice, c.slice}, n32, groups_for(n, 64));  // c = a: independent of the first
  CHECK(rec.barrier_count() == 0);
  rec.dispatch(axpy, {b.slice, c.slice}, AxpyParams{n32, 2.0f}, groups_for(n, 64));  // reads b, c: RAW
  CHECK(rec.barrier_count() == 1);
  rec.dispatch(copy, {a.slice, d.slice, a.slice, d.slice}, n32, groups_for(n, 64));  // d = a: no conflict
  CHECK(rec.barrier_count() == 1);
  rec.dispatch(copy, {d.slice, b.slice, d.slice, b.slice}, n32, groups_for(n, 64));  // writes b, read by axpy: WAR
  CHECK(rec.barrier_count() == 2);
  rec.run();
  CHECK(download_f32(ctx, c) == std::vector<float>(n, 3.0f));
  CHECK(download_f32(ctx, b) == std::vector<float>(n, 1.0f));

  // A barrier covers every later command, copies included: here the copy reads c, written before a barrier
  // that a dispatch needed. (Synchronization validation, on in every test, reports a barrier too narrow.)
  Tensor e = make_tensor(arena, {n});
  Recorder mixed(ctx);
  mixed.dispatch(copy, {a.slice, c.slice, a.slice, c.slice}, n32, groups_for(n, 64));  // c = a
  mixed.dispatch(copy, {a.slice, b.slice, a.slice, b.slice}, n32, groups_for(n, 64));  // b = a
  mixed.dispatch(copy, {b.slice, d.slice, b.slice, d.slice}, n32, groups_for(n, 64));  // d = b: a compute-to-compute barrier
  CHECK(mixed.barrier_count() == 1);
  mixed.copy(c.slice, e.slice);  // reads c, written before that barrier: no second barrier needed
  CHECK(mixed.barrier_count() == 1);
  mixed.run();
  CHECK(download_f32(ctx, e) == std::vector<float>(n, 1.0f));
}

TEST_CASE("a dispatch that does not match its shader is refused") {
  Context& ctx = test::context();
  Arena arena(ctx, 1 << 20);
  Tensor x = make_tensor(arena, {4});
  Recorder rec(ctx);
  const Kernel& axpy = ctx.kernel("axpy", std::vector<uint32_t>{64});
  CHECK_THROWS_WITH(rec.dispatch(axpy, {x.slice}, AxpyParams{4, 1.0f}, {1, 1, 1}),
                    Catch::Matchers::Contains("2 buffer bindings, 1 buffers"));
  CHECK_THROWS_WITH(rec.dispatch(axpy, {x.slice, x.slice}, uint32_t{4}, {1, 1, 1}),
                    Catch::Matchers::Contains("push constants are 8 bytes, the C++ struct is 4"));
  Tensor empty = make_tensor(arena, {0});
  CHECK_THROWS_AS(rec.dispatch(axpy, {x.slice, empty.slice}, AxpyParams{4, 1.0f}, {1, 1, 1}), ArgumentError);
  rec.dispatch(axpy, {empty.slice, empty.slice}, AxpyParams{0, 1.0f}, {0, 1, 1});  // no work: fine
  CHECK(rec.dispatch_count() == 0);
}

TEST_CASE("GPU timestamps time every dispatch") {
  Context& ctx = test::context();
  if (!ctx.timestamps_supported()) {
    WARN("this device has no timestamps on its compute queue");
    return;
  }
  Arena arena(ctx, 8 << 20);
  const int64_t n = 1 << 20;
  Tensor x = make_tensor(arena, {n}), y = make_tensor(arena, {n});
  Recorder rec(ctx, RecorderOptions{.timestamps = true});
  rec.dispatch(ctx.kernel("copy", std::vector<uint32_t>{256}), {x.slice, y.slice, x.slice, y.slice},
               static_cast<uint32_t>(n), groups_for(n, 256), "copy 1");
  rec.dispatch(ctx.kernel("copy", std::vector<uint32_t>{256}), {y.slice, x.slice, y.slice, x.slice},
               static_cast<uint32_t>(n), groups_for(n, 256), "copy 2");
  rec.run();
  auto timings = rec.timings();
  REQUIRE(timings.size() == 2);
  CHECK(timings[0].label == "copy 1");
  CHECK(timings[1].label == "copy 2");
  CHECK(timings[0].milliseconds + timings[1].milliseconds > 0);
}

// Loop-free element-wise kernels (shaders/quad_sets.glsl): the grid ops::loop_free_groups sizes, in two
// dimensions past the device's workgroup-count limit, and a kernel that flattens such a grid. A real 2-D grid
// needs over 268 million elements on lavapipe, so the kernel is checked with a small 2-D grid dispatched
// directly, and the sizing with a device whose limits are small.
#include "gpu.hpp"

#include <vkdrop/ops/quads.hpp>
#include <vkdrop/ops/tuning.hpp>
#include <vkdrop/reference/relu.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <string>
#include <vector>

using namespace vkdrop;

TEST_CASE("loop_free_groups covers every item in one or two dimensions, within the device's limits") {
  DeviceInfo device;
  device.max_workgroup_size = {1024, 1024, 64};
  device.max_workgroup_invocations = 1024;
  device.max_workgroup_count = {100, 7, 1};
  const int64_t local = ops::loop_free_workgroup(device);
  CHECK(local == 256);
  CHECK(ops::loop_free_groups(0, device) == std::array<uint32_t, 3>{0, 1, 1});
  CHECK(ops::loop_free_groups(1, device) == std::array<uint32_t, 3>{1, 1, 1});
  CHECK(ops::loop_free_groups(100 * local, device) == std::array<uint32_t, 3>{100, 1, 1});
  CHECK(ops::loop_free_groups(100 * local + 1, device) == std::array<uint32_t, 3>{100, 2, 1});
  CHECK(ops::loop_free_groups(700 * local, device) == std::array<uint32_t, 3>{100, 7, 1});
  CHECK_THROWS_AS(ops::loop_free_groups(700 * local + 1, device), ArgumentError);
  device.max_workgroup_invocations = 64;  // a device with smaller workgroups gets them
  CHECK(ops::loop_free_workgroup(device) == 64);
}

TEST_CASE("quad-set kernels flatten a two-dimensional grid and write the partial quad, in either order") {
  Context& ctx = test::context();
  const uint32_t local = 64;
  // 3 x 2 workgroups of 64 invocations, four quads each: 6144 elements; with a partial quad; with an odd number
  // of whole quads (the lone last one of the pair stores) with and without a partial quad; fewer invocations busy.
  // Both orders: a GPU's (consecutive lanes on consecutive quads) and a CPU device's (a lane's own side by side),
  // whichever this device is; in a CPU device's order also the _u64 twins (pairs of quads as 64-bit stores,
  // quad_set_stores.glsl) where the device has 64-bit integers.
  const std::array<uint32_t, 3> grid{3, 2, 1};
  for (uint32_t contiguous : {0u, 1u}) {
    std::vector<std::string> suffixes{""};
    if (contiguous == 1 && ctx.info().shader_int64) suffixes.push_back("_u64");
    for (int64_t n : {int64_t{6 * 64 * 4 * 4}, int64_t{6 * 64 * 4 * 4 - 2}, int64_t{6 * 64 * 4 * 4 - 4},
                      int64_t{5 * 64 * 4 * 4 + 3}, int64_t{4 * 64 * 4 * 4 + 4 + 1}}) {
      Arena arena(ctx, 1 << 20);
      Tensor x = make_tensor(arena, {n}, DType::f32, "x"), y = make_tensor(arena, {n}, DType::f32, "y");
      const std::vector<float> xs = test::random_floats(static_cast<size_t>(n), 5);
      upload(ctx, x, std::span<const float>(xs));
      const std::array<uint32_t, 3> flags = ops::quad_set_flags(n, ctx.info());  // {PARTIAL, CONTIGUOUS, LONE_QUAD}
      const std::vector<uint32_t> constants{local, flags[0], contiguous, flags[2]};
      const BufferSlice x4 = ops::quad_binding(ctx, x.slice), y4 = ops::quad_binding(ctx, y.slice);
      // relu_forward.comp is the same shape with arithmetic: a GPU's order is otherwise untested here.
      std::vector<float> relu_want(xs.size());
      ref::relu_forward(relu_want.data(), xs.data(), int(n));
      for (const std::string& suffix : suffixes) {
        const struct {
          std::string kernel;
          const std::vector<float>& want;
        } cases[] = {{"copy", xs}, {"relu_forward", relu_want}};
        for (const auto& [kernel, want] : cases) {
          upload(ctx, y, std::span<const float>(std::vector<float>(static_cast<size_t>(n), -7.0f)));
          Recorder rec(ctx);
          rec.dispatch(ctx.kernel(kernel + suffix, constants), {x.slice, y.slice, x4, y4}, static_cast<uint32_t>(n),
                       grid, kernel);
          rec.run();
          test::expect_bits(download_f32(ctx, y), want,
                            fmt::format("{}{} of {} elements over a 3 x 2 grid, contiguous = {}", kernel, suffix, n,
                                        contiguous));
        }
      }
    }
  }
}

TEST_CASE("CPU devices with 64-bit integers store pairs of quads; GPUs a quad at a time") {
  DeviceInfo device;
  device.type = VK_PHYSICAL_DEVICE_TYPE_CPU;
  device.shader_int64 = true;
  CHECK(ops::quad_set_kernel("copy", device) == "copy_u64");
  device.shader_int64 = false;
  CHECK(ops::quad_set_kernel("copy", device) == "copy");
  device.type = VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
  device.shader_int64 = true;
  CHECK(ops::quad_set_kernel("copy", device) == "copy");
  // {PARTIAL, CONTIGUOUS, LONE_QUAD}: 4 * 3 + 2 elements have three whole quads and a partial one.
  CHECK(ops::quad_set_flags(14, device) == std::array<uint32_t, 3>{1, 0, 1});
  CHECK(ops::quad_set_flags(16, device) == std::array<uint32_t, 3>{0, 0, 0});
}

// Batches gathered on the device from a byte-resident data set, and the masking of padded rows.
#include "gpu.hpp"

#include <vkdrop/datasets/device_dataset.hpp>
#include <vkdrop/ops/batch.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/recorder.hpp>

using namespace vkdrop;

TEST_CASE("gather_batch converts the right samples to f32, wrapping padded rows to order[0]") {
  Context& ctx = test::context();
  const int64_t count = 37, features = 13, batch = 8;  // odd sizes: samples straddle 4-byte words
  std::vector<uint8_t> images(count * features), labels(count);
  for (size_t i = 0; i < images.size(); ++i) images[i] = static_cast<uint8_t>((i * 7 + 3) % 256);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<uint8_t>(i % 10);
  DeviceDataset data(ctx, images, {features}, labels, "synthetic");

  Arena arena(ctx, 1 << 16);
  Tensor order = make_tensor(arena, {count}, DType::u32, "order");
  std::vector<uint32_t> perm(count);
  for (int64_t i = 0; i < count; ++i) perm[i] = static_cast<uint32_t>((i * 5 + 2) % count);  // 5 is coprime to 37
  upload(ctx, order, std::span<const uint32_t>(perm));
  Tensor pos = make_tensor(arena, {2}, DType::u32, "pos");
  Tensor x = make_tensor(arena, {batch, features}, DType::f32, "x");
  Tensor y = make_tensor(arena, {batch}, DType::i32, "y");

  // The gather of `sample_bytes` bytes a sample from `set`, into a fresh (batch, sample_bytes) tensor.
  const auto check_gather = [&](const DeviceDataset& set, const std::vector<uint8_t>& bytes, int64_t sample_bytes) {
    Tensor xb = make_tensor(arena, {batch, sample_bytes}, DType::f32, "xb");
    for (uint32_t first : {0u, 8u, 32u}) {  // 32: rows 5..7 are past the end
      INFO("first sample " << first << ", " << sample_bytes << " bytes a sample");
      std::vector<uint32_t> p{first, 0};
      upload(ctx, pos, std::span<const uint32_t>(p));
      Recorder rec(ctx);
      ops::gather_batch(rec, xb, y, set.images(), set.labels(), order, pos, 0.5f);
      rec.run();
      const auto xs = download_f32(ctx, xb);
      const auto ys = download_i32(ctx, y);
      for (int64_t r = 0; r < batch; ++r) {
        const uint32_t k = first + static_cast<uint32_t>(r);
        const uint32_t sample = perm[k < count ? k : 0];
        CHECK(ys[r] == labels[sample]);
        for (int64_t f = 0; f < sample_bytes; ++f)
          CHECK(xs[r * sample_bytes + f] == 0.5f * bytes[sample * sample_bytes + f]);
      }
    }
  };
  check_gather(data, images, features);
  // 12 bytes a sample: whole words, which the kernel reads as quads through texel buffers.
  std::vector<uint8_t> words(count * 12);
  for (size_t i = 0; i < words.size(); ++i) words[i] = static_cast<uint8_t>((i * 11 + 5) % 256);
  check_gather(DeviceDataset(ctx, words, {12}, labels, "synthetic words"), words, 12);

  SECTION("mask_rows zeroes exactly the padded rows") {
    Tensor loss = make_tensor(arena, {batch}, DType::f32, "loss");
    Tensor correct = make_tensor(arena, {batch}, DType::u32, "correct");
    std::vector<float> ones(batch, 1.0f);
    std::vector<uint32_t> one_words(batch, 1u), p{32, 0};
    upload(ctx, loss, std::span<const float>(ones));
    upload(ctx, correct, std::span<const uint32_t>(one_words));
    upload(ctx, pos, std::span<const uint32_t>(p));
    Recorder rec(ctx);
    ops::mask_rows(rec, loss, correct, pos, count);
    rec.run();
    CHECK(download_f32(ctx, loss) == std::vector<float>{1, 1, 1, 1, 1, 0, 0, 0});
    CHECK(download_u32(ctx, correct) == std::vector<uint32_t>{1, 1, 1, 1, 1, 0, 0, 0});
  }

  SECTION("shapes that do not fit are refused") {
    Tensor wrong = make_tensor(arena, {batch, features + 1}, DType::f32, "wrong");
    Recorder rec(ctx);
    CHECK_THROWS_AS(ops::gather_batch(rec, wrong, y, data.images(), data.labels(), order, pos, 1.0f), ShapeError);
    CHECK_THROWS_AS(DeviceDataset(ctx, images, {features + 1}, labels, "bad"), ShapeError);
  }
}

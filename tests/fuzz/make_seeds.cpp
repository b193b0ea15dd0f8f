// Writes the seed corpora of the fuzz targets into DIR/<target>/ (DIR is tests/fuzz/corpus in the repository):
// small valid files made by vkdrop's own writers (IDX, which vkdrop only reads, by hand from the format), and
// damaged copies of them. A valid-* seed must be accepted and a bad-* seed refused (replay.cpp checks both on
// every ctest run). Files of other names there, such as reproducers of past findings, are left alone.
//
//   build/tests/fuzz/fuzz_make_seeds tests/fuzz/corpus

#include "checkpoint_models.hpp"
#include "fuzz_target.hpp"

#include <vkdrop/vkdrop.hpp>

#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

fs::path g_root;

void put(const std::string& target, const std::string& name, const Bytes& bytes) {
  fs::create_directories(g_root / target);
  std::ofstream out(g_root / target / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + (g_root / target / name).string());
}

Bytes read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Bytes cut(Bytes bytes, size_t drop) {
  bytes.resize(bytes.size() - drop);
  return bytes;
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// --- IDX ----------------------------------------------------------------------------------------------------

// An IDX file: magic 00 00, the type, the dimension count, big-endian sizes, then `elements` bytes as given.
Bytes idx(uint8_t type, const std::vector<uint32_t>& dims, size_t payload_bytes) {
  Bytes b{0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(d >> shift));
  }
  for (size_t i = 0; i < payload_bytes; ++i) b.push_back(static_cast<uint8_t>(i * 37 + 11));
  return b;
}

void idx_seeds() {
  const Bytes images = idx(vkdrop::k_idx_u8, {2, 3, 4}, 24);
  const Bytes labels = idx(vkdrop::k_idx_u8, {10}, 10);
  const Bytes floats = idx(vkdrop::k_idx_f32, {2, 2}, 16);
  const Bytes huge_claim = idx(vkdrop::k_idx_u8, {60000, 28, 28}, 10);  // the header of MNIST, 10 bytes of data
  const Bytes gigabyte_claim = idx(vkdrop::k_idx_u8, {1000, 1000, 1000}, 100);  // within k_idx_max_bytes
  for (const std::string target : {"idx", "idx_gzip"}) {
    put(target, "valid-u8-2x3x4.idx", images);
    put(target, "valid-u8-labels-10.idx", labels);
    put(target, "valid-f32-2x2.idx", floats);
    put(target, "bad-truncated-data.idx", cut(images, 1));
    put(target, "bad-trailing-byte.idx", concat(images, {0}));
    put(target, "bad-header-claims-mnist.idx", huge_claim);
    put(target, "bad-header-claims-1gb.idx", gigabyte_claim);
  }
  put("idx", "valid-i8-5.idx", idx(vkdrop::k_idx_i8, {5}, 5));
  put("idx", "valid-i16-3.idx", idx(vkdrop::k_idx_i16, {3}, 6));
  put("idx", "valid-i32-1x2.idx", idx(vkdrop::k_idx_i32, {1, 2}, 8));
  put("idx", "valid-f64-2.idx", idx(vkdrop::k_idx_f64, {2}, 16));
  put("idx", "valid-u8-4-dims.idx", idx(vkdrop::k_idx_u8, {1, 2, 1, 3}, 6));
  put("idx", "edge-zero-dim.idx", idx(vkdrop::k_idx_u8, {0, 5}, 0));
  put("idx", "bad-short-header.idx", {0, 0, 8});
  put("idx", "bad-magic.idx", concat({1}, Bytes(images.begin() + 1, images.end())));
  put("idx", "bad-type-0x07.idx", idx(0x07, {3}, 3));
  put("idx", "bad-no-dims.idx", idx(vkdrop::k_idx_u8, {}, 0));
  put("idx", "bad-five-dims.idx", idx(vkdrop::k_idx_u8, {1, 1, 1, 1, 1}, 1));
  put("idx", "bad-truncated-dims.idx", cut(idx(vkdrop::k_idx_u8, {2, 3, 4}, 0), 2));
  put("idx", "bad-overflowing-dims.idx", idx(vkdrop::k_idx_f64, {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, 8));
  const Bytes gz = vkdrop::fuzz::gzip(images);
  put("idx", "valid-u8-2x3x4.idx.gz", gz);
  put("idx", "bad-truncated-stream.idx.gz", cut(gz, gz.size() / 2));
  Bytes bad_crc = gz;
  bad_crc[bad_crc.size() - 8] ^= 0xff;  // the trailer: CRC-32, then the length
  put("idx", "bad-crc.idx.gz", bad_crc);
  put("idx", "bad-trailing-byte.idx.gz", vkdrop::fuzz::gzip(concat(images, {0})));
  put("idx", "bad-header-claims-mnist.idx.gz", vkdrop::fuzz::gzip(huge_claim));
}

// --- safetensors --------------------------------------------------------------------------------------------

// A safetensors file from its JSON header (padded with spaces to 8 bytes, as writers do) and data.
Bytes safetensors(std::string json, const Bytes& data) {
  json.append((8 - json.size() % 8) % 8, ' ');
  Bytes b;
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(uint64_t{json.size()} >> (8 * i)));
  b.insert(b.end(), json.begin(), json.end());
  return concat(b, data);
}

void safetensors_seeds() {
  const fs::path tmp = vkdrop::fuzz::scratch_dir() / "seed.safetensors";
  vkdrop::SafetensorsFile file;
  file.tensors = {{"0.weight", {2, 3}, {1, -2, 3.5f, 0, 1e-3f, -7}}, {"0.bias", {2}, {0.25f, -0.5f}}};
  file.metadata = {{"format", "vkdrop"}, {"step", "12"}};
  vkdrop::write_safetensors(tmp, file);
  const Bytes two = read_bytes(tmp);
  put("safetensors", "valid-two-tensors.safetensors", two);
  vkdrop::write_safetensors(tmp, vkdrop::SafetensorsFile{});
  put("safetensors", "valid-no-tensors.safetensors", read_bytes(tmp));
  vkdrop::write_safetensors(tmp, vkdrop::SafetensorsFile{{{"empty", {0, 3}, {}}, {"one", {1}, {42}}}, {}});
  put("safetensors", "valid-zero-size-tensor.safetensors", read_bytes(tmp));

  const Bytes eight_floats(32, 0x3f);
  put("safetensors", "bad-truncated-data.safetensors", cut(two, 4));
  put("safetensors", "bad-shorter-than-length.safetensors", {8, 0, 0, 0, 0});
  put("safetensors", "bad-length-past-end.safetensors", concat({0xff, 0xff, 0, 0, 0, 0, 0, 0}, {'{', '}'}));
  put("safetensors", "bad-json.safetensors", safetensors(R"({"a":{"dtype":"F32","shape":[2],)", eight_floats));
  put("safetensors", "bad-not-an-object.safetensors", safetensors("[1, 2]", {}));
  put("safetensors", "bad-dtype-f16.safetensors",
      safetensors(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", Bytes(4, 0)));
  put("safetensors", "bad-offsets-disagree-with-shape.safetensors",
      safetensors(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}})", eight_floats));
  put("safetensors", "bad-offsets-past-data.safetensors",
      safetensors(R"({"a":{"dtype":"F32","shape":[16],"data_offsets":[0,64]}})", eight_floats));
  put("safetensors", "bad-negative-dimension.safetensors",
      safetensors(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight_floats));
  put("safetensors", "bad-huge-shape.safetensors",
      safetensors(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", eight_floats));
  put("safetensors", "bad-missing-offsets.safetensors", safetensors(R"({"a":{"dtype":"F32","shape":[2]}})", eight_floats));
  put("safetensors", "bad-metadata-not-object.safetensors", safetensors(R"({"__metadata__":[1]})", {}));
}

// --- checkpoint pairs ---------------------------------------------------------------------------------------

// The fuzz input of one pair (checkpoint_models.hpp): flags, two lengths, then the three files.
Bytes pair(uint8_t flags, const Bytes& weights, const Bytes& optim, const Bytes& old_optim = {}) {
  Bytes b{flags};
  for (const size_t n : {weights.size(), optim.size()}) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(n >> (8 * i)));
  }
  return concat(concat(concat(b, weights), optim), old_optim);
}

struct Saved {
  Bytes weights, optim;
};

// Two saves of one model, an epoch of training apart: two pairs with different checkpoint ids.
std::pair<Saved, Saved> two_saves(vkdrop::Context& ctx, const vkdrop::DeviceDataset& data, bool adam) {
  vkdrop::Model model(ctx, vkdrop::fuzz::checkpoint_net(), {vkdrop::fuzz::k_checkpoint_features},
                      vkdrop::fuzz::checkpoint_config(adam));
  const fs::path path = vkdrop::fuzz::scratch_dir() / "seed-model.safetensors";
  std::pair<Saved, Saved> saves;
  for (Saved* saved : {&saves.first, &saves.second}) {
    model.train_epoch(data);
    model.save(path);
    *saved = {read_bytes(path), read_bytes(path.string() + ".optim")};
  }
  return saves;
}

void checkpoint_seeds() {
  vkdrop::Context ctx;
  const int64_t count = 8;
  Bytes images(static_cast<size_t>(count * vkdrop::fuzz::k_checkpoint_features)), labels;
  for (size_t i = 0; i < images.size(); ++i) images[i] = static_cast<uint8_t>(i * 29 + 3);
  for (int64_t i = 0; i < count; ++i) labels.push_back(static_cast<uint8_t>(i % vkdrop::fuzz::k_checkpoint_classes));
  const vkdrop::DeviceDataset data(ctx, images, {vkdrop::fuzz::k_checkpoint_features}, labels, "seeds");

  const auto [sgd_a, sgd_b] = two_saves(ctx, data, false);
  const auto [adam_a, adam_b] = two_saves(ctx, data, true);
  const uint8_t sgd = 0, adam = vkdrop::fuzz::k_use_adam, weights_only = vkdrop::fuzz::k_weights_only;
  put("checkpoint", "valid-sgd-pair.bin", pair(sgd, sgd_a.weights, sgd_a.optim));
  put("checkpoint", "valid-adam-pair.bin", pair(adam, adam_a.weights, adam_a.optim));
  put("checkpoint", "valid-sgd-weights-only.bin", pair(sgd | weights_only, sgd_b.weights, {}));
  put("checkpoint", "valid-adam-weights-into-sgd-model.bin", pair(sgd | weights_only, adam_b.weights, {}));
  // A save that crashed after writing the new PATH.optim: the old PATH pairs with PATH.optim.old.
  put("checkpoint", "valid-sgd-after-crashed-save.bin", pair(sgd, sgd_a.weights, sgd_b.optim, sgd_a.optim));
  put("checkpoint", "bad-sgd-missing-optim.bin", pair(sgd, sgd_a.weights, {}));
  put("checkpoint", "bad-sgd-pair-into-adam-model.bin", pair(adam, sgd_a.weights, sgd_a.optim));
  put("checkpoint", "bad-optim-from-another-save.bin", pair(sgd, sgd_a.weights, sgd_b.optim));
  put("checkpoint", "bad-optim-from-another-model.bin", pair(adam, adam_a.weights, sgd_a.optim));
  put("checkpoint", "bad-truncated-weights.bin", pair(sgd, cut(sgd_a.weights, 4), sgd_a.optim));
  put("checkpoint", "bad-truncated-optim.bin", pair(adam, adam_a.weights, cut(adam_a.optim, 4)));
  put("checkpoint", "bad-no-weights.bin", pair(sgd, {}, sgd_a.optim));
}

// --- pipeline-cache files ----------------------------------------------------------------------------------

// The bytes of a fresh pipeline cache on this device, then copies with its VkPipelineCacheHeaderVersionOne
// (headerSize, headerVersion, vendorID, deviceID: four little-endian u32, then the 16-byte cache UUID) changed.
// A driver must start empty on any of them, so all are accepted; only the one from this device is named valid-.
void pipeline_cache_seeds() {
  vkdrop::Context ctx;
  size_t size = 0;
  VKDROP_CHECK(vkGetPipelineCacheData(ctx.device(), ctx.pipeline_cache(), &size, nullptr));
  Bytes here(size);
  VKDROP_CHECK(vkGetPipelineCacheData(ctx.device(), ctx.pipeline_cache(), &size, here.data()));
  here.resize(size);
  if (here.size() < 32) throw std::runtime_error("the driver's pipeline cache data has no 32-byte header");
  const auto changed = [&](size_t offset, uint8_t x) {
    Bytes b = here;
    b[offset] ^= x;
    return b;
  };
  put("pipeline_cache", "valid-this-device.bin", here);
  put("pipeline_cache", "foreign-uuid.bin", changed(16, 0xff));
  put("pipeline_cache", "foreign-vendor.bin", changed(8, 0x01));
  put("pipeline_cache", "foreign-device.bin", changed(12, 0x01));
  put("pipeline_cache", "damaged-header-size.bin", changed(3, 0xff));
  put("pipeline_cache", "damaged-header-version.bin", changed(4, 0x06));
  put("pipeline_cache", "damaged-truncated-header.bin", cut(here, here.size() - 12));
  put("pipeline_cache", "damaged-trailing-bytes.bin", concat(here, Bytes(40, 0xa5)));
  put("pipeline_cache", "damaged-one-byte.bin", {0x20});
}

}  // namespace

int main(int argc, char* argv[]) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " CORPUS_DIR   (tests/fuzz/corpus)\n";
    return 2;
  }
  g_root = argv[1];
  try {
    idx_seeds();
    safetensors_seeds();
    checkpoint_seeds();
    pipeline_cache_seeds();
  } catch (const std::exception& e) {
    std::cerr << "fuzz_make_seeds: " << e.what() << "\n";
    return 1;
  }
  std::cout << "seeds written under " << g_root.string() << "\n";
  return 0;
}

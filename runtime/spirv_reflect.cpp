#include <vkdrop/runtime/spirv_reflect.hpp>

#include <vkdrop/runtime/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace vkdrop {

namespace {

// Opcodes, decorations and storage classes from the SPIR-V specification (section 3).
enum Op : uint32_t {
  OpName = 5,
  OpTypeInt = 21,
  OpTypeFloat = 22,
  OpTypeVector = 23,
  OpTypeImage = 25,
  OpTypeStruct = 30,
  OpTypePointer = 32,
  OpVariable = 59,
  OpDecorate = 71,
  OpMemberDecorate = 72,
};
enum Decoration : uint32_t {
  Block = 2,
  BufferBlock = 3,
  NonWritable = 24,
  NonReadable = 25,
  Binding = 33,
  DescriptorSet = 34,
  Offset = 35,
};
enum ImageProperty : uint32_t { DimBuffer = 5, SampledStorage = 2 };
enum ImageFormat : uint32_t { FormatRgba32f = 1, FormatR32f = 3, FormatRgba32ui = 30, FormatR32ui = 33 };
enum StorageClass : uint32_t { UniformConstant = 0, Uniform = 2, PushConstant = 9, StorageBuffer = 12 };

constexpr uint32_t k_magic = 0x07230203;

std::string literal_string(std::span<const uint32_t> words) {
  std::string s;
  for (uint32_t w : words) {
    for (int i = 0; i < 4; ++i) {
      char c = static_cast<char>((w >> (8 * i)) & 0xff);
      if (c == '\0') return s;
      s += c;
    }
  }
  return s;
}

}  // namespace

ShaderInterface reflect_compute_shader(std::span<const uint32_t> spirv, const std::string& shader) {
  if (spirv.size() < 5 || spirv[0] != k_magic) {
    throw ArgumentError(fmt::format("Shader {}: not SPIR-V (bad magic number).", shader));
  }
  std::map<uint32_t, std::string> names;
  std::map<uint32_t, std::set<uint32_t>> decorations;                // id -> decorations
  std::map<uint32_t, uint32_t> binding_of, set_of;                   // variable id -> number
  std::map<uint32_t, std::vector<uint32_t>> struct_members;          // struct id -> member type ids
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> member_offset;   // (struct, member) -> byte offset
  std::map<std::pair<uint32_t, uint32_t>, std::set<uint32_t>> member_decorations;
  std::map<uint32_t, uint32_t> scalar_bytes;                          // int/float type id -> bytes
  std::map<uint32_t, std::pair<uint32_t, uint32_t>> vectors;          // vector id -> (component, count)
  std::map<uint32_t, std::pair<uint32_t, uint32_t>> pointers;         // pointer id -> (storage class, pointee)
  std::map<uint32_t, std::pair<uint32_t, bool>> texel_formats;        // buffer image type id -> (components, uint)
  std::vector<std::pair<uint32_t, uint32_t>> variables;               // (pointer type, id)

  for (size_t i = 5; i < spirv.size();) {
    const uint32_t count = spirv[i] >> 16;
    const uint32_t op = spirv[i] & 0xffff;
    if (count == 0 || i + count > spirv.size()) {
      throw ArgumentError(fmt::format("Shader {}: truncated SPIR-V instruction at word {}.", shader, i));
    }
    std::span<const uint32_t> w = spirv.subspan(i + 1, count - 1);  // operands
    switch (op) {
      case OpName: names[w[0]] = literal_string(w.subspan(1)); break;
      case OpTypeInt:
      case OpTypeFloat: scalar_bytes[w[0]] = w[1] / 8; break;
      case OpTypeVector: vectors[w[0]] = {w[1], w[2]}; break;
      case OpTypeStruct: struct_members[w[0]] = std::vector<uint32_t>(w.begin() + 1, w.end()); break;
      case OpTypePointer: pointers[w[0]] = {w[1], w[2]}; break;
      case OpTypeImage:
        // (result, sampled type, dim, depth, arrayed, multisampled, sampled, format): a storage image
        // (sampled = 2) over a buffer with a 32-bit float or uint format is a storage texel buffer.
        if (w.size() >= 8 && w[2] == DimBuffer && w[6] == SampledStorage) {
          if (w[7] == FormatR32f || w[7] == FormatRgba32f) texel_formats[w[0]] = {w[7] == FormatR32f ? 1 : 4, false};
          if (w[7] == FormatR32ui || w[7] == FormatRgba32ui) texel_formats[w[0]] = {w[7] == FormatR32ui ? 1 : 4, true};
        }
        break;
      case OpVariable: variables.emplace_back(w[0], w[1]); break;
      case OpDecorate:
        decorations[w[0]].insert(w[1]);
        if (w[1] == Binding) binding_of[w[0]] = w[2];
        if (w[1] == DescriptorSet) set_of[w[0]] = w[2];
        break;
      case OpMemberDecorate:
        member_decorations[{w[0], w[1]}].insert(w[2]);
        if (w[2] == Offset) member_offset[{w[0], w[1]}] = w[3];
        break;
      default: break;
    }
    i += count;
  }

  auto type_bytes = [&](uint32_t type) -> uint32_t {
    if (auto s = scalar_bytes.find(type); s != scalar_bytes.end()) return s->second;
    if (auto v = vectors.find(type); v != vectors.end()) return scalar_bytes.at(v->second.first) * v->second.second;
    throw ArgumentError(fmt::format("Shader {}: push constants may hold only scalars and vectors.", shader));
  };
  // A block is read-only (writeonly) when the variable or every member carries NonWritable (NonReadable).
  auto all_members_have = [&](uint32_t var, uint32_t block, uint32_t decoration) {
    if (decorations[var].count(decoration)) return true;
    const auto& members = struct_members[block];
    if (members.empty()) return false;
    for (uint32_t m = 0; m < members.size(); ++m)
      if (!member_decorations[{block, m}].count(decoration)) return false;
    return true;
  };

  ShaderInterface result;
  for (auto [pointer_type, id] : variables) {
    auto p = pointers.find(pointer_type);
    if (p == pointers.end()) continue;
    auto [storage, pointee] = p->second;
    // GLSL's anonymous instances (`buffer X { float x[]; };`) are named after their block.
    std::string name = names.count(id) ? names[id] : "";
    if (name.empty()) name = names.count(pointee) ? names[pointee] : fmt::format("%{}", id);
    if (storage == PushConstant) {
      const auto& members = struct_members[pointee];
      for (uint32_t m = 0; m < members.size(); ++m)
        result.push_constant_bytes =
            std::max(result.push_constant_bytes, member_offset[{pointee, m}] + type_bytes(members[m]));
      continue;
    }
    const bool ssbo = storage == StorageBuffer || (storage == Uniform && decorations[pointee].count(BufferBlock));
    const auto texel = texel_formats.find(pointee);
    const bool texel_buffer = storage == UniformConstant && texel != texel_formats.end();
    if (!ssbo && !texel_buffer) {
      if (storage == Uniform || storage == UniformConstant) {
        throw ArgumentError(fmt::format("Shader {}: resource '{}' is neither a storage buffer nor an r32f, rgba32f, "
                                        "r32ui or rgba32ui imageBuffer; vkdrop kernels use those and push constants only.", shader, name));
      }
      continue;  // Input/Workgroup/Private/Function variables are not part of the interface
    }
    if (set_of[id] != 0) {
      throw ArgumentError(fmt::format("Shader {}: buffer '{}' is in descriptor set {}; use set 0.", shader, name, set_of[id]));
    }
    ShaderBinding b;
    b.binding = binding_of[id];
    b.name = name;
    if (texel_buffer) {
      b.texel_components = texel->second.first;
      b.texel_uint = texel->second.second;
      b.writes = !decorations[id].count(NonWritable);
      b.reads = !decorations[id].count(NonReadable);
    } else {
      b.writes = !all_members_have(id, pointee, NonWritable);
      b.reads = !all_members_have(id, pointee, NonReadable);
    }
    result.bindings.push_back(b);
  }
  std::sort(result.bindings.begin(), result.bindings.end(),
            [](const ShaderBinding& a, const ShaderBinding& b) { return a.binding < b.binding; });
  for (uint32_t i = 0; i < result.bindings.size(); ++i) {
    if (result.bindings[i].binding != i) {
      throw ArgumentError(fmt::format("Shader {}: buffer bindings must be numbered 0..{} without gaps; found binding {}.",
                                      shader, result.bindings.size() - 1, result.bindings[i].binding));
    }
  }
  return result;
}

}  // namespace vkdrop

#pragma once
// Just enough SPIR-V reflection to derive a compute pipeline's interface from the shader itself:
// its storage-buffer bindings (and whether the shader reads or writes each, from GLSL's readonly /
// writeonly), and the size of its push-constant block. No hand-kept table can drift from the shader.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace vkdrop {

struct ShaderBinding {
  uint32_t binding = 0;  // layout(binding = N); all in descriptor set 0
  std::string name;      // the GLSL instance name, for error messages
  bool reads = true;     // false for `writeonly`
  bool writes = true;    // false for `readonly`
};

struct ShaderInterface {
  std::vector<ShaderBinding> bindings;  // sorted by binding number, numbered 0..n-1 without gaps
  uint32_t push_constant_bytes = 0;
};

// Throws ArgumentError (naming `shader`) for malformed SPIR-V or an interface vkdrop does not support:
// descriptor sets other than 0, uniform buffers, images, or gaps in the binding numbers.
ShaderInterface reflect_compute_shader(std::span<const uint32_t> spirv, const std::string& shader);

}  // namespace vkdrop

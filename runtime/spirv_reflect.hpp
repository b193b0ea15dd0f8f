#pragma once
// Just enough SPIR-V reflection to derive a compute pipeline's interface from the shader itself:
// its bindings (storage buffers, and storage texel buffers of 32-bit floats: GLSL `imageBuffer` with
// `r32f` or `rgba32f`), whether the shader reads or writes each (GLSL's readonly / writeonly), and the size
// of its push-constant block. No hand-kept table can drift from the shader.

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
  // Storage texel buffers: 32-bit components per texel, 1 (`r32f`, `r32ui`) or 4 (`rgba32f`, `rgba32ui`); 0
  // for a storage buffer. Both are bound from a BufferSlice; a texel buffer reads the slice's whole texels
  // through a buffer view of the format.
  uint32_t texel_components = 0;
  bool texel_uint = false;  // `r32ui` / `rgba32ui` (an `imageBuffer` of uint) rather than floats
  bool texel_buffer() const { return texel_components != 0; }
};

struct ShaderInterface {
  std::vector<ShaderBinding> bindings;  // sorted by binding number, numbered 0..n-1 without gaps
  uint32_t push_constant_bytes = 0;
};

// Throws ArgumentError (naming `shader`) for malformed SPIR-V or an interface vkdrop does not support:
// descriptor sets other than 0, uniform buffers, images other than r32f, rgba32f, r32ui or rgba32ui buffer images, or gaps in
// the binding numbers.
ShaderInterface reflect_compute_shader(std::span<const uint32_t> spirv, const std::string& shader);

}  // namespace vkdrop

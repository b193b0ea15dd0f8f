#pragma once
// The SPIR-V of every shaders/*.comp, compiled and embedded at build time (cmake/EmbedShaders.cmake).

#include <cstdint>
#include <span>
#include <string_view>

namespace vkdrop {

struct EmbeddedShader {
  std::string_view name;             // file name without ".comp", e.g. "matmul"
  std::span<const uint32_t> spirv;   // SPIR-V words
  // The Vulkan version the SPIR-V targets (1.1 unless the shader asks for more with a line
  // `// vkdrop-target-env: vulkan1.N`); a device must support at least this version to run it.
  uint32_t vulkan_major = 1, vulkan_minor = 1;
};

// All embedded shaders, in file-name order. Defined in the generated build/shaders/shader_registry.cpp.
std::span<const EmbeddedShader> embedded_shaders();

// The shader called `name`; throws ArgumentError listing the known names if there is none.
const EmbeddedShader& embedded_shader(std::string_view name);

}  // namespace vkdrop

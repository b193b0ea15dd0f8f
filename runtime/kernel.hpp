#pragma once
// A compiled compute pipeline for one embedded shader and one set of specialization constants. Its
// descriptor-set layout and push-constant range are derived from the shader's SPIR-V (spirv_reflect.hpp).
// Get kernels from Context::kernel(), which builds each once and shares it.

#include <vkdrop/runtime/handle.hpp>
#include <vkdrop/runtime/spirv_reflect.hpp>

#include <span>
#include <string>
#include <vector>

namespace vkdrop {

class Context;

class Kernel {
 public:
  // `specialization[i]` is the value of `layout(constant_id = i)`; all 32-bit.
  Kernel(Context& context, const std::string& shader, std::span<const uint32_t> specialization);

  const std::string& name() const { return name_; }
  const ShaderInterface& interface() const { return interface_; }
  const std::vector<uint32_t>& specialization() const { return specialization_; }
  VkPipeline pipeline() const { return pipeline_; }
  VkPipelineLayout layout() const { return layout_; }
  VkDescriptorSetLayout set_layout() const { return set_layout_; }

 private:
  std::string name_;
  std::vector<uint32_t> specialization_;
  ShaderInterface interface_;
  UniqueDescriptorSetLayout set_layout_;
  UniquePipelineLayout layout_;
  UniquePipeline pipeline_;
};

}  // namespace vkdrop

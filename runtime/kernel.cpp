#include <vkdrop/runtime/kernel.hpp>

#include <vkdrop/runtime/context.hpp>
#include <vkdrop/runtime/error.hpp>
#include <vkdrop/runtime/shader_registry.hpp>

#include <fmt/format.h>

namespace vkdrop {

const EmbeddedShader& embedded_shader(std::string_view name) {
  std::string known;
  for (const EmbeddedShader& s : embedded_shaders()) {
    if (s.name == name) return s;
    known += fmt::format(" {}", s.name);
  }
  throw ArgumentError(fmt::format("No embedded shader named '{}'. Known:{}", name, known));
}

Kernel::Kernel(Context& context, const std::string& shader, std::span<const uint32_t> specialization)
    : name_(shader), specialization_(specialization.begin(), specialization.end()) {
  const EmbeddedShader& code = embedded_shader(shader);
  const uint32_t api = context.info().api_version;
  if (!context.info().supports_vulkan(code.vulkan_major, code.vulkan_minor)) {
    throw DeviceError(fmt::format("Shader {} needs Vulkan {}.{}; {} supports {}.{}. Update its driver, or use a "
                                  "kernel that targets Vulkan 1.1.", shader, code.vulkan_major, code.vulkan_minor,
                                  context.info().name, VK_API_VERSION_MAJOR(api), VK_API_VERSION_MINOR(api)));
  }
  interface_ = reflect_compute_shader(code.spirv, shader);
  VkDevice device = context.device();
  if (interface_.push_constant_bytes > context.info().max_push_constants_bytes) {
    throw ArgumentError(fmt::format("Shader {} needs {} bytes of push constants; {} allows {}.", shader,
                                    interface_.push_constant_bytes, context.info().name,
                                    context.info().max_push_constants_bytes));
  }

  std::vector<VkDescriptorSetLayoutBinding> bindings;
  for (const ShaderBinding& b : interface_.bindings) {
    VkDescriptorSetLayoutBinding binding{};
    binding.binding = b.binding;
    binding.descriptorType = b.texel_buffer() ? VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    binding.descriptorCount = 1;
    binding.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    bindings.push_back(binding);
  }
  VkDescriptorSetLayoutCreateInfo set_info{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  set_info.bindingCount = static_cast<uint32_t>(bindings.size());
  set_info.pBindings = bindings.data();
  VkDescriptorSetLayout set_layout;
  VKDROP_CHECK(vkCreateDescriptorSetLayout(device, &set_info, nullptr, &set_layout));
  set_layout_ = UniqueDescriptorSetLayout(device, set_layout);

  VkPushConstantRange push{};
  push.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
  push.size = interface_.push_constant_bytes;
  VkPipelineLayoutCreateInfo layout_info{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  layout_info.setLayoutCount = 1;
  layout_info.pSetLayouts = &set_layout;
  layout_info.pushConstantRangeCount = push.size > 0 ? 1 : 0;
  layout_info.pPushConstantRanges = &push;
  VkPipelineLayout layout;
  VKDROP_CHECK(vkCreatePipelineLayout(device, &layout_info, nullptr, &layout));
  layout_ = UniquePipelineLayout(device, layout);

  VkShaderModuleCreateInfo module_info{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  module_info.codeSize = code.spirv.size_bytes();
  module_info.pCode = code.spirv.data();
  VkShaderModule raw_module;
  VKDROP_CHECK(vkCreateShaderModule(device, &module_info, nullptr, &raw_module));
  UniqueShaderModule module(device, raw_module);

  std::vector<VkSpecializationMapEntry> entries;
  for (uint32_t i = 0; i < specialization_.size(); ++i)
    entries.push_back(VkSpecializationMapEntry{i, i * 4, 4});
  VkSpecializationInfo spec{};
  spec.mapEntryCount = static_cast<uint32_t>(entries.size());
  spec.pMapEntries = entries.data();
  spec.dataSize = specialization_.size() * 4;
  spec.pData = specialization_.data();

  VkComputePipelineCreateInfo pipeline_info{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  pipeline_info.stage = VkPipelineShaderStageCreateInfo{VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  pipeline_info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  pipeline_info.stage.module = module;
  pipeline_info.stage.pName = "main";
  pipeline_info.stage.pSpecializationInfo = entries.empty() ? nullptr : &spec;
  pipeline_info.layout = layout;
  VkPipeline pipeline;
  VKDROP_CHECK(vkCreateComputePipelines(device, context.pipeline_cache(), 1, &pipeline_info, nullptr, &pipeline));
  pipeline_ = UniquePipeline(device, pipeline);
}

}  // namespace vkdrop

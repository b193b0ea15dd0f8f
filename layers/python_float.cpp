#include <vkdrop/layers/python_float.hpp>

#include <fmt/format.h>

namespace vkdrop {

// fmt's "{}" gives the same shortest round-trip digits and the same switch to exponents as Python, but
// prints 1.0 as "1" where Python prints "1.0".
std::string python_float(double value) {
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".en") == std::string::npos) text += ".0";  // not 1e-05, inf or nan
  return text;
}

}  // namespace vkdrop

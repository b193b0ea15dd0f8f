#pragma once
// Numbers in layer printouts as PyTorch shows them: Python's repr of a float.

#include <string>

namespace vkdrop {

// The shortest digits that round-trip, as Python prints them: 0.5, 1.0 (not "1"), 0.01, 1e-05, inf, nan.
std::string python_float(double value);

}  // namespace vkdrop

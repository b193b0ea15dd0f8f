// The one main() of every test executable. It turns the Khronos validation layer on for every Context
// the tests create and turns any validation message into a failure of the test case that caused it.

#define CATCH_CONFIG_RUNNER
// Catch2 v2 indents a failing test's name after its ": "; past the console width (80 by default) its text wrapper
// throws, and the failure ends in std::terminate instead of a report. Our names are sentences: room for them.
#define CATCH_CONFIG_CONSOLE_WIDTH 240
#include <catch2/catch.hpp>

#include <vkdrop/runtime/context.hpp>

#include <cstdlib>
#include <iostream>

namespace {

bool g_validation_failed = false;

// After each test case, any message the validation layer reported is that test case's failure.
struct ValidationListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;

  void testCaseStarting(const Catch::TestCaseInfo&) override { vkdrop::take_validation_messages(); }

  void testCaseEnded(const Catch::TestCaseStats& stats) override {
    auto messages = vkdrop::take_validation_messages();
    if (messages.empty()) return;
    g_validation_failed = true;
    std::cerr << "\nFAILED: test case \"" << stats.testInfo.name << "\" caused " << messages.size()
              << " Vulkan validation message(s):\n";
    for (const auto& m : messages) std::cerr << "  " << m << "\n";
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(ValidationListener)

int main(int argc, char* argv[]) {
  setenv("VKDROP_VALIDATION", "1", /*overwrite=*/1);
  int failed = Catch::Session().run(argc, argv);
  if (g_validation_failed) {
    std::cerr << "Vulkan validation messages were reported: failing.\n";
    return failed ? failed : 1;
  }
  return failed;
}

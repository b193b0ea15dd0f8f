#pragma once
// Temporary files of this process's own. ctest -j runs several test executables at once, and the lane-width
// variants of one executable side by side; two users may run the suite on one machine. A fixed name in /tmp
// lets one run's leftovers (or its concurrent twin) break another, so every directory is STEM-PID, and the
// process that made it removes it when it exits (a forked child does not).

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace vkdrop::test {

// temp_directory_path() / "STEM-PID": a name of this process's own, not created.
inline std::filesystem::path temp_name(const std::string& stem) {
  return std::filesystem::temp_directory_path() / (stem + "-" + std::to_string(getpid()));
}

// temp_name(stem), created (empty on first use in this process) and removed with everything in it when
// the process that created it exits.
inline std::filesystem::path temp_dir(const std::string& stem) {
  struct Owned {
    pid_t owner = getpid();
    std::vector<std::filesystem::path> dirs;
    ~Owned() {
      if (getpid() != owner) return;
      std::error_code ignored;
      for (const auto& dir : dirs) std::filesystem::remove_all(dir, ignored);
    }
  };
  static Owned owned;
  const std::filesystem::path dir = temp_name(stem);
  bool known = false;
  for (const auto& d : owned.dirs) known = known || d == dir;
  if (!known) {
    std::filesystem::remove_all(dir);  // a dead process with this PID may have left it
    owned.dirs.push_back(dir);
  }
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace vkdrop::test

#include "support/shared_data.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

namespace deepseek::testing {

std::string SharedDir() {
  const char* env = std::getenv("DS_SHARED_DIR");
  const std::string dir = env && *env ? env : DS_SHARED_DIR;
  if (!std::filesystem::is_directory(dir + "/golden")) {
    FAIL("shared reference data not found at '" << dir
         << "': check out the repository beside shared/ or set DS_SHARED_DIR");
  }
  return std::filesystem::canonical(dir).string();
}

namespace {
struct TempDirs {
  std::vector<std::filesystem::path> paths;
  ~TempDirs() {
    std::error_code ec;
    for (const auto& p : paths) std::filesystem::remove_all(p, ec);
  }
};
}  // namespace

std::string TempDir(const std::string& tag) {
  static TempDirs dirs;
  std::string templ = (std::filesystem::temp_directory_path() / ("ds-" + tag + "-XXXXXX")).string();
  if (!mkdtemp(templ.data())) FAIL("cannot create a temporary directory for " << tag);
  dirs.paths.emplace_back(templ);
  return templ;
}

}  // namespace deepseek::testing

#include "support/shared_data.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
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

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE_MESSAGE(out.good(), "cannot write " << path);
  return path;
}

}  // namespace deepseek::testing

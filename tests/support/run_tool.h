// Running a built command-line tool from a test: arguments, stdin text, and what it printed.
#pragma once

#include <string>

namespace deepseek::testing {

struct ToolRun {
  int exit_code = -1;  // -1 when the tool did not exit normally (a crash)
  std::string out;
  std::string err;
};

// Runs `bin` with `args` (already shell-quoted where needed) and `input` on stdin.
ToolRun RunTool(const std::string& bin, const std::string& args, const std::string& input = "");

}  // namespace deepseek::testing

#include "support/run_tool.h"

#include <sys/wait.h>

#include <cstdlib>

#include "support/shared_data.h"

namespace deepseek::testing {

ToolRun RunTool(const std::string& bin, const std::string& args, const std::string& input) {
  // Files rather than pipes: the tool's stdin, stdout and stderr can all be large without
  // either side blocking on the other.
  const std::string dir = TempDir("tool");
  const std::string in = WriteFile(dir + "/in", input);
  const std::string command = "'" + bin + "' " + args + " < '" + in + "' > '" + dir + "/out' 2> '" + dir + "/err'";
  const int status = std::system(command.c_str());
  ToolRun run;
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  run.out = ReadFile(dir + "/out");
  run.err = ReadFile(dir + "/err");
  return run;
}

}  // namespace deepseek::testing

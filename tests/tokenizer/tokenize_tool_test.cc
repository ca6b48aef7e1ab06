// deepseek-tokenize on every golden string: one output line per input line, ids exactly the
// reference's; bad lines give aligned error lines and exit status 1.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "support/run_tool.h"
#include "support/shared_data.h"

namespace deepseek::testing {
namespace {

#ifdef DS_TOKENIZE_BIN

using json = nlohmann::json;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_CASE("deepseek-tokenize reproduces every golden line") {
  for (const char* version : {"deepseek-v3", "deepseek-v4"}) {
    CAPTURE(version);
    std::vector<json> golden;
    std::string input;
    for (const std::string& line : Lines(ReadFile(SharedDir() + "/tokenizer/golden/" + version + ".jsonl"))) {
      golden.push_back(json::parse(line));
      input += json{{"text", golden.back()["text"]}}.dump() + "\n";
    }
    const ToolRun run = RunTool(DS_TOKENIZE_BIN, "--tokenizer '" + SharedDir() + "/tokenizer/" + version + "'", input);
    REQUIRE_MESSAGE(run.exit_code == 0, run.err);
    const std::vector<std::string> out = Lines(run.out);
    REQUIRE(out.size() == golden.size());
    for (size_t i = 0; i < golden.size(); ++i) {
      CAPTURE(golden[i]["id"]);
      CHECK(json::parse(out[i]) == json{{"ids", golden[i]["ids"]}});
    }
  }
}

TEST_CASE("deepseek-tokenize reports bad lines in place and fails") {
  const std::string input = "{\"text\": \"ok\"}\nnot json\n{\"txt\": 1}\n{\"text\": \"<｜User｜>\"}\n";
  const ToolRun run = RunTool(DS_TOKENIZE_BIN, "--tokenizer '" + SharedDir() + "/tokenizer/deepseek-v4/tokenizer.json'", input);
  CHECK(run.exit_code == 1);
  const std::vector<std::string> out = Lines(run.out);
  REQUIRE(out.size() == 4);
  CHECK(json::parse(out[0]).contains("ids"));
  CHECK(json::parse(out[1]).contains("error"));
  CHECK(json::parse(out[2]).contains("error"));
  CHECK(json::parse(out[3]) == json{{"ids", {128803}}});
  CHECK_FALSE(run.err.empty());

  const ToolRun missing = RunTool(DS_TOKENIZE_BIN, "--tokenizer /nonexistent/tokenizer.json");
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("/nonexistent/tokenizer.json") != std::string::npos);
}

#else

TEST_CASE("deepseek-tokenize (skipped: built without DS_BUILD_EXAMPLES)") {}

#endif

}  // namespace
}  // namespace deepseek::testing

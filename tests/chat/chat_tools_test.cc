// deepseek-chat-encode and deepseek-chat-parse on every shared vector: the encoder's stdout must
// be the prompt byte for byte; the parser's JSON must equal the expected result.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "chat_cases.h"
#include "support/run_tool.h"

namespace deepseek {
namespace {

#if defined(DS_CHAT_ENCODE_BIN) && defined(DS_CHAT_PARSE_BIN)

using testing::RunTool;
using testing::ToolRun;

TEST_CASE("deepseek-chat-encode writes every vector's prompt") {
  for (const testing::EncodeCase& c : testing::EncodeCases()) {
    CAPTURE(c.name);
    const ToolRun run = RunTool(DS_CHAT_ENCODE_BIN, "", c.request);
    CHECK_MESSAGE(run.exit_code == 0, run.err);
    CHECK(run.out == c.expected);
  }
  const ToolRun bad = RunTool(DS_CHAT_ENCODE_BIN, "", R"({"thinking_mode": "chat", "messages": [{"role": "robot"}]})");
  CHECK(bad.exit_code == 1);
  CHECK(bad.out.empty());
  CHECK(bad.err.find("messages[0].role") != std::string::npos);
}

TEST_CASE("deepseek-chat-parse answers every parse vector") {
  for (const testing::ParseCase& c : testing::ParseCases()) {
    CAPTURE(c.name);
    const ToolRun run = RunTool(DS_CHAT_PARSE_BIN, "", c.input);
    REQUIRE_MESSAGE(run.exit_code == 0, run.err);
    const nlohmann::ordered_json got = nlohmann::ordered_json::parse(run.out);
    const nlohmann::ordered_json expected = nlohmann::ordered_json::parse(c.expected);
    REQUIRE(got["ok"] == expected["ok"]);
    if (expected["ok"] == true) {
      CHECK(got["result"] == expected["result"]);
    } else {
      CHECK(got["error"].is_string());
    }
  }
  const ToolRun bad = RunTool(DS_CHAT_PARSE_BIN, "", R"({"thinking_mode": "maybe", "completion": ""})");
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("thinking_mode") != std::string::npos);
}

#else

TEST_CASE("chat tools (skipped: built without DS_BUILD_EXAMPLES)") {}

#endif

}  // namespace
}  // namespace deepseek

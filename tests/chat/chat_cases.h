// The shared DeepSeek V4 chat vectors (shared/chat/deepseek-v4): the official and extra encode
// cases as request JSON for EncodeChatRequestJson, and the extra parse cases.
#pragma once

#include <string>
#include <vector>

namespace deepseek::testing {

struct EncodeCase {
  std::string name;
  std::string request;   // request JSON (official inputs get their thinking_mode added)
  std::string expected;  // the exact prompt
};

struct ParseCase {
  std::string name;
  std::string input;     // {"description", "thinking_mode", "completion"}
  std::string expected;  // {"ok": true, "result": {...}} or {"ok": false, ...}
};

std::string ChatDir();
std::vector<EncodeCase> EncodeCases();  // 4 official + 25 extra
std::vector<ParseCase> ParseCases();    // 6 extra

}  // namespace deepseek::testing

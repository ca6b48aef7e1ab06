#include "chat_cases.h"

#include <doctest/doctest.h>

#include <cstdio>

#include "support/shared_data.h"

namespace deepseek::testing {
namespace {

std::string Numbered(const char* pattern, int n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, pattern, n);
  return buf;
}

}  // namespace

std::string ChatDir() { return SharedDir() + "/chat/deepseek-v4"; }

std::vector<EncodeCase> EncodeCases() {
  std::vector<EncodeCase> cases;
  // The official harness runs cases 1-3 in thinking mode and case 4 in chat mode. Case 1 is an
  // object with top-level tools; cases 2-4 are bare message lists.
  for (int n = 1; n <= 4; ++n) {
    const std::string dir = ChatDir() + "/official/";
    const std::string input = ReadFile(dir + Numbered("test_input_%d.json", n));
    const std::string mode = n == 4 ? "chat" : "thinking";
    const std::size_t open = input.find_first_of("{[");
    REQUIRE(open != std::string::npos);
    std::string request = input[open] == '{'
                              ? "{\"thinking_mode\": \"" + mode + "\", " + input.substr(open + 1)
                              : "{\"thinking_mode\": \"" + mode + "\", \"messages\": " + input + "}";
    cases.push_back({Numbered("official_%d", n), request, ReadFile(dir + Numbered("test_output_%d.txt", n))});
  }
  for (int n = 1; n <= 25; ++n) {
    const std::string stem = ChatDir() + "/extra/" + Numbered("extra_encode_%02d", n);
    cases.push_back({Numbered("extra_encode_%02d", n), ReadFile(stem + ".input.json"), ReadFile(stem + ".output.txt")});
  }
  return cases;
}

std::vector<ParseCase> ParseCases() {
  std::vector<ParseCase> cases;
  for (int n = 1; n <= 6; ++n) {
    const std::string stem = ChatDir() + "/extra/" + Numbered("extra_parse_%02d", n);
    cases.push_back(
        {Numbered("extra_parse_%02d", n), ReadFile(stem + ".input.json"), ReadFile(stem + ".expected.json")});
  }
  return cases;
}

}  // namespace deepseek::testing

// deepseek-chat-parse: {"thinking_mode": "chat"|"thinking", "completion": "..."} on stdin → the
// parsed reply on stdout, as the reference parser returns it:
//   {"ok": true, "result": {"role", "content", "reasoning_content", "tool_calls"}}
// or, when the parser rejects the completion, {"ok": false, "error": "..."} (still exit status 0).
// A request that is not of this form: a message on stderr and exit status 1.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "deepseek/chat.h"

namespace {

int Usage(const std::string& why) {
  std::fprintf(
      stderr, "deepseek-chat-parse: %s\nexpected {\"thinking_mode\": \"chat\"|\"thinking\", \"completion\": \"...\"}\n",
      why.c_str());
  return 1;
}

}  // namespace

int main() {
  const std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  const nlohmann::json request = nlohmann::json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (!request.is_object()) return Usage("the input is not a JSON object");
  const auto mode = request.find("thinking_mode");
  if (mode == request.end() || (*mode != "chat" && *mode != "thinking")) return Usage("bad or missing thinking_mode");
  const auto completion = request.find("completion");
  if (completion == request.end() || !completion->is_string()) return Usage("bad or missing completion");

  deepseek::Result<deepseek::ChatMessage> message =
      deepseek::ParseCompletion(completion->get<std::string>(), *mode == "thinking");
  std::string out;
  if (message.ok()) {
    out = "{\"ok\": true, \"result\": " + deepseek::ChatMessageToJson(message.value()) + "}\n";
  } else {
    const std::string error = nlohmann::json(message.status().message())
                                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out = "{\"ok\": false, \"error\": " + error + "}\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

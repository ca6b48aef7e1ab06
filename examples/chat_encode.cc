// deepseek-chat-encode: one chat request (JSON) on stdin → the exact DeepSeek V4 prompt text on
// stdout, with no trailing newline. The request has the form of the shared test vectors:
//   {"messages": [...], "thinking_mode": "chat"|"thinking", "reasoning_effort": null|"high"|"max",
//    "drop_thinking": true, "add_default_bos_token": true, "context": [...]}
// with tools on the system or developer message; a top-level "tools" list is attached to the
// first message, as the official harness does. Errors: a message on stderr and exit status 1.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include "deepseek/chat.h"

int main() {
  const std::string request((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  deepseek::Result<std::string> prompt = deepseek::EncodeChatRequestJson(request);
  if (!prompt.ok()) {
    std::fprintf(stderr, "deepseek-chat-encode: %s\n", prompt.status().ToString().c_str());
    return 1;
  }
  std::fwrite(prompt.value().data(), 1, prompt.value().size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

// The encoder's own form of a chat message. Both public entry points — typed ChatMessage and
// the JSON request — are checked and converted into it, so there is one encoder for both.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/python_json.h"
#include "deepseek/chat.h"

namespace deepseek::chat {

// One part of a merged user turn (FORMAT.md §3.1): user text or a tool result.
struct Block {
  bool tool_result = false;
  std::string text;          // the text, or the tool result's content with its parts joined
  std::string tool_call_id;  // tool results: the call answered
};

struct Message {
  std::string where;  // "messages[3]" or "context[0]": names the input message in errors
  std::string role;   // one of kRoles
  std::string content;  // a missing or null content is ""
  std::string reasoning_content;
  std::vector<ToolCall> tool_calls;
  std::string tool_call_id;
  std::vector<PyJson> tools;              // the "function" object of each tool
  std::optional<PyJson> response_format;  // only when Python would treat it as true
  std::optional<std::string> task;        // one of the quick-instruction tasks
  bool wo_eos = false;
  std::vector<Block> blocks;  // user messages, after merging
  bool from_context = false;  // already encoded: seen by the rules, not rendered
};

struct EncodeOptions {
  bool thinking = true;     // thinking_mode "thinking" (else "chat")
  bool max_effort = false;  // reasoning_effort "max"
  bool drop_thinking = true;
  bool add_bos = true;
};

inline constexpr std::string_view kRoles[] = {"system", "user", "assistant", "tool", "latest_reminder", "developer"};

// Checks what every message must satisfy whichever way it came in: a known role, a known task,
// and developer content that is not empty. Throws kInvalidArgument naming message.where.
void CheckMessage(const Message& message);

// The "function" objects of an OpenAI tools list (each item {"type": ..., "function": {...}}).
std::vector<PyJson> ToolFunctions(const PyJson& tools, const std::string& where);

// A typed message in the encoder's form; `where` names it in errors.
Message FromChatMessage(const ChatMessage& message, std::string where);

// A request in the JSON form of the test vectors (see EncodeChatRequestJson).
struct Request {
  std::vector<Message> messages;
  std::vector<Message> context;
  EncodeOptions options;
};
Request RequestFromJson(std::string_view json);

}  // namespace deepseek::chat

// The public chat-format API (deepseek/chat.h): converts the caller's input to the encoder's form
// and every internal error into a Status.
#include <optional>
#include <utility>

#include "chat/completion_parser.h"
#include "chat/encoder.h"
#include "chat/message.h"
#include "chat/python_json.h"
#include "core/error.h"
#include "deepseek/chat.h"

namespace deepseek {
namespace {

template <typename T, typename Fn>
Result<T> Capture(Fn&& fn) {
  std::optional<T> value;
  Status status = CatchAll([&] { value = fn(); });
  if (!status.ok()) return status;
  return std::move(*value);
}

std::vector<chat::Message> Convert(std::span<const ChatMessage> messages, const char* name) {
  std::vector<chat::Message> out;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    out.push_back(chat::FromChatMessage(messages[i], std::string(name) + "[" + std::to_string(i) + "]"));
  }
  return out;
}

}  // namespace

Result<ChatMode> ParseChatMode(std::string_view name) {
  if (name == "fast") return ChatMode::kFast;
  if (name == "expert") return ChatMode::kExpert;
  if (name == "expert-max") return ChatMode::kExpertMax;
  return Status(StatusCode::kInvalidArgument,
                "unknown chat mode '" + std::string(name) + "' (expected fast, expert or expert-max)");
}

const char* ChatModeName(ChatMode mode) {
  switch (mode) {
    case ChatMode::kFast: return "fast";
    case ChatMode::kExpert: return "expert";
    case ChatMode::kExpertMax: return "expert-max";
  }
  return "unknown";
}

Result<std::string> EncodeChat(std::span<const ChatMessage> messages, const ChatFormatOptions& options,
                               std::span<const ChatMessage> context) {
  return Capture<std::string>([&] {
    chat::EncodeOptions encode;
    encode.thinking = options.mode != ChatMode::kFast;
    encode.max_effort = options.mode == ChatMode::kExpertMax;
    encode.drop_thinking = options.drop_thinking;
    encode.add_bos = options.add_bos;
    return chat::Encode(Convert(messages, "messages"), Convert(context, "context"), encode);
  });
}

Result<std::string> EncodeChatRequestJson(std::string_view request_json) {
  return Capture<std::string>([&] {
    chat::Request request = chat::RequestFromJson(request_json);
    return chat::Encode(std::move(request.messages), std::move(request.context), request.options);
  });
}

Result<ChatMessage> ParseCompletion(std::string_view completion, bool thinking) {
  return Capture<ChatMessage>([&] { return chat::ParseCompletionText(completion, thinking); });
}

std::string ChatMessageToJson(const ChatMessage& message) {
  std::string out = "{\"role\": ";
  chat::AppendJsonString(message.role, out);
  out += ", \"content\": ";
  chat::AppendJsonString(message.content, out);
  out += ", \"reasoning_content\": ";
  chat::AppendJsonString(message.reasoning_content, out);
  out += ", \"tool_calls\": [";
  for (std::size_t i = 0; i < message.tool_calls.size(); ++i) {
    if (i) out += ", ";
    out += "{\"type\": \"function\", \"function\": {\"name\": ";
    chat::AppendJsonString(message.tool_calls[i].name, out);
    out += ", \"arguments\": ";
    chat::AppendJsonString(message.tool_calls[i].arguments, out);
    out += "}}";
  }
  return out + "]}";
}

}  // namespace deepseek

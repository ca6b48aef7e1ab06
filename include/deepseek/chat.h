// The DeepSeek V4 chat format: messages → prompt text (the official encoder's rules, byte for
// byte), and model output → reasoning, content and DSML tool calls, whole or streamed.
// The prompt text still has to be tokenized (deepseek/tokenizer.h): its special-token texts
// become single ids there.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deepseek/image.h"
#include "deepseek/status.h"

namespace deepseek {

// The three ways a user asks V4 to answer.
enum class ChatMode {
  kFast,       // no reasoning: the prompt ends with </think>
  kExpert,     // reasoning first: the prompt ends with <think>
  kExpertMax,  // reasoning with the fixed maximum-effort instructions at the start
};

// Parses "fast", "expert" or "expert-max".
Result<ChatMode> ParseChatMode(std::string_view name);
const char* ChatModeName(ChatMode mode);

// Fields have default initializers, so designated initializers may name only what they set:
// ChatMessage{.role = "user", .content = "Hi"}.
struct ToolCall {
  std::string id{};         // the caller's call id; tool results name it to be put in call order
  std::string name{};
  std::string arguments{};  // a JSON object, as text
};

struct ChatMessage {
  // "system", "user", "assistant", "tool", "developer" or "latest_reminder".
  std::string role{};
  std::string content{};
  std::string reasoning_content{};     // assistant: the reasoning of a thinking turn
  std::vector<ToolCall> tool_calls{};  // assistant
  std::string tool_call_id{};          // tool: which call this is the result of
  std::string tools_json{};            // system/developer: an OpenAI "tools" list as JSON text
  std::string response_format_json{};  // system/developer: a JSON schema the reply must follow
  std::string task{};                  // quick-instruction task ("action", "query", "title", ...); "" = none
  bool wo_eos = false;                 // assistant: leave the turn open (continuation)
  // user, for a model with vision (V4.1): each image stands where the content names
  // kImagePlaceholder, in order, or, when the content names none, all before its text.
  std::vector<Image> images{};
};

// The text that marks an image's place in a message's content (the V4.1 tokenizer's
// <｜deepseek_image｜> token; spec §8.12).
inline constexpr const char* kImagePlaceholder = "<｜deepseek_image｜>";

struct ChatFormatOptions {
  ChatMode mode = ChatMode::kExpert;
  bool drop_thinking = true;  // drop reasoning of earlier turns (unless tools are present)
  bool add_bos = true;        // start with <｜begin▁of▁sentence｜> (ignored with a context)
};

// The prompt for `messages`, ending in the generation prompt when the last message asks for a
// reply. `context` holds earlier messages that are already encoded: only `messages` are
// rendered, but the rules that look at the whole conversation see both. An unknown role,
// a tools list that is not JSON, or a message the format does not allow is kInvalidArgument
// naming the message index and field.
Result<std::string> EncodeChat(std::span<const ChatMessage> messages, const ChatFormatOptions& options,
                               std::span<const ChatMessage> context = {});

// The same from a request in the JSON form of the official test vectors: {"messages": [...],
// "thinking_mode": "chat"|"thinking", "reasoning_effort": null|"high"|"max", "drop_thinking",
// "add_default_bos_token", "context"}, with OpenAI-style messages (string contents; a tool
// result may also be a list of parts; tools on the system/developer message). A top-level
// "tools" list is attached to the first message, as the official harness does; "description"
// is ignored and any other unknown field is an error. Object key order is kept: tool schemas
// are echoed into the prompt exactly as Python's json.dumps would write them.
Result<std::string> EncodeChatRequestJson(std::string_view request_json);

// Parses a finished completion — the text generated after the prompt, special tokens as
// text, up to and including <｜end▁of▁sentence｜> — as strictly as the reference parser.
// Malformed output (no </think> in thinking mode, truncation, broken DSML, a duplicate
// parameter, stray special tokens, invalid UTF-8) is kInvalidArgument saying what and where.
// Stricter than the reference in one way: a string="false" parameter whose value is not JSON
// is an error too (the reference would return arguments that are not JSON). Tool-call
// arguments are rebuilt as a JSON object text; the calls carry no id.
Result<ChatMessage> ParseCompletion(std::string_view completion, bool thinking);

// {"role", "content", "reasoning_content", "tool_calls": [{"type": "function", "function":
// {"name", "arguments"}}]} as the reference parser returns it (non-ASCII written raw).
std::string ChatMessageToJson(const ChatMessage& message);

// Which part of the reply a piece of streamed text belongs to.
enum class ChatChannel { kReasoning, kContent, kToolCall };

// Splits a completion as it streams in. Thinking mode starts in kReasoning, which </think>
// ends; kContent runs until EOS or the blank line before <｜DSML｜tool_calls>; from that tag on,
// the DSML block text (up to EOS) is kToolCall. The markers </think>, the blank line before the
// tool calls and EOS are consumed, never emitted. Text that might still become a marker, or
// that ends inside a UTF-8 character, is held back until it is decided, so the pieces can be
// shown as they come. Finish() parses the text with ParseCompletion's rules.
class CompletionStream {
 public:
  struct Piece {
    ChatChannel channel;
    std::string text;
  };

  explicit CompletionStream(bool thinking);
  // Appends decoded text, split anywhere (even inside a marker or a character), and returns
  // the pieces now certain. Once ended(), pushed text is ignored.
  std::vector<Piece> Push(std::string_view text);
  bool ended() const;  // the EOS text has been seen
  // The text held back as a possible marker start, as a piece of the current channel: for a
  // stream that stops without an EOS (max tokens, cancellation). Empty once ended().
  std::vector<Piece> Flush();
  Result<ChatMessage> Finish() const;
  const std::string& text() const;  // everything pushed, up to and including the EOS

 private:
  bool thinking_;
  ChatChannel channel_;
  bool ended_ = false;
  std::string text_;         // everything pushed (up to the EOS)
  std::size_t decided_ = 0;  // bytes of text_ emitted or consumed as markers
};

}  // namespace deepseek

// The OpenAI chat-completions protocol in terms of the deepseek C++ API: a request body becomes
// messages, a chat mode and generation parameters; a ChatReply becomes a response body or the
// chunks of a server-sent-event stream. No HTTP and no model here, so all of it is unit-tested.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "deepseek/chat.h"
#include "deepseek/generation.h"
#include "deepseek/status.h"
#include "image_url.h"

namespace deepseek::server {

// Key order matters: tool schemas are echoed into the prompt as written by the client, so the
// request is parsed into an order-keeping object.
using Json = nlohmann::ordered_json;

// Fields have default initializers, so designated initializers may name only what they set.
// An error in the OpenAI shape {"error": {"message", "type", "param", "code"}}.
struct ApiError {
  int http_status = 400;
  std::string message{};
  std::string param{};  // the request field at fault ("messages[2].role"); empty when none
  std::string type = "invalid_request_error";
  std::string code{};  // empty → null
};
Json ErrorBody(const ApiError& error);
// The HTTP status and error for a failed Generator::Chat: what the caller sent (bad message
// sequence, context too long, bad token ids in logit_bias) is 400, anything else 500.
ApiError ErrorFromStatus(const Status& status);

// What the server sets for every request: defaults a request may override, and what the
// model takes, so that logit_bias ids and images are refused with the field named before
// anything runs.
struct RequestSettings {
  ChatMode mode = ChatMode::kExpert;
  int64_t max_tokens = 1024;
  int64_t vocab_size = 0;  // 0: ids are left to the sampler to check
  bool vision = false;     // the model takes images (Model::has_vision); else image parts are refused
  std::size_t max_image_bytes = kMaxImageBytes;  // per image, decoded
};

struct ChatRequest {
  std::vector<ChatMessage> messages;
  ChatFormatOptions format;
  GenerationParams params;  // without a "seed", sampling.seed is drawn at random per request
  bool stream = false;
  bool include_usage = false; // stream_options.include_usage: a last chunk with usage
};

// Parses a POST /v1/chat/completions body. Every problem is a 400 whose param names the field.
// A message's content is a string or a list of parts: "text" parts, joined in order, and in
// user messages "image_url" parts with a data URL (image_url.h), each image placed where its
// part stands among the text (kImagePlaceholder there, the image in ChatMessage::images).
// The mode comes from "mode" ("fast" | "expert" | "expert-max"), else from DeepSeek's
// "thinking": {"type": "enabled" | "disabled"} and "reasoning_effort" ("max" → expert-max),
// else from the settings.
std::variant<ChatRequest, ApiError> ParseChatRequest(std::string_view body, const RequestSettings& settings);

// What identifies one completion in every object sent for it.
struct CompletionIds {
  std::string id{};     // "chatcmpl-..."
  int64_t created = 0;  // Unix seconds
  std::string model{};
};
// A fresh "chatcmpl-" id with 96 random bits.
std::string NewCompletionId();

// Gives every tool call that has no id one derived from the completion id ("call_<suffix>_<i>"),
// unique across completions because completion ids are.
void AssignToolCallIds(ChatMessage& message, std::string_view completion_id);

// "stop", "length" or "tool_calls" (cancelled replies are never answered).
const char* FinishReasonText(const ChatReply& reply);
Json UsageJson(const GenerationStats& stats);

// The non-streaming response: one choice with the message (content, reasoning_content,
// tool_calls), finish_reason and usage. Tool calls must already have ids.
Json CompletionJson(const CompletionIds& ids, const ChatReply& reply);

// Compact JSON text; text that is not UTF-8 is replaced rather than thrown on, since a reply
// must go out once generated.
std::string JsonText(const Json& json);
// One server-sent event: "data: <json>\n\n".
std::string SseEvent(const Json& data);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

// The chunks of one streamed completion, in order: Start(), Piece() per streamed text, then
// Finish(). Tool calls are sent whole at the end, because they are only known once the DSML
// block parses; their streamed DSML text is not shown.
class ChunkStream {
 public:
  ChunkStream(CompletionIds ids, bool include_usage);
  std::string Start() const;  // the role chunk
  // A content or reasoning_content delta; empty for tool-call text and empty pieces.
  std::string Piece(ChatChannel channel, std::string_view text) const;
  // The tool-call chunk (when there are calls; they must have ids), the finish_reason chunk,
  // the usage chunk when asked for, and [DONE].
  std::string Finish(const ChatReply& reply) const;

 private:
  Json Chunk(Json delta, const Json& finish_reason) const;
  CompletionIds ids_;
  bool include_usage_;
};

// The served model's entry, and the model list that holds only it.
Json ModelJson(const std::string& model_id, int64_t created);
Json ModelsJson(const std::string& model_id, int64_t created);

}  // namespace deepseek::server

#include "openai_api.h"

#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <optional>
#include <random>
#include <utility>

namespace deepseek::server {
namespace {

// Thrown while walking a request and turned into the 400 answer at the top, so that each check
// is one line where the field is read.
struct BadRequest {
  std::string param;
  std::string message;
};

[[noreturn]] void Reject(std::string param, std::string message) { throw BadRequest{std::move(param), std::move(message)}; }

// An optional member; JSON null counts as absent, as OpenAI clients send nulls for unset fields.
const Json* Member(const Json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

std::string String(const Json& value, const std::string& param) {
  if (!value.is_string()) Reject(param, "'" + param + "' must be a string");
  return value.get<std::string>();
}

bool Bool(const Json& value, const std::string& param) {
  if (!value.is_boolean()) Reject(param, "'" + param + "' must be a boolean");
  return value.get<bool>();
}

double Number(const Json& value, const std::string& param, double low, double high) {
  if (!value.is_number()) Reject(param, "'" + param + "' must be a number");
  const double v = value.get<double>();
  if (!(v >= low && v <= high)) {
    char range[64];
    std::snprintf(range, sizeof range, "between %g and %g", low, high);
    Reject(param, "'" + param + "' must be " + range);
  }
  return v;
}

int64_t Integer(const Json& value, const std::string& param, int64_t low) {
  if (!value.is_number_integer()) Reject(param, "'" + param + "' must be an integer");
  if (value.is_number_unsigned()) {
    if (value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      Reject(param, "'" + param + "' is too large");
    }
  }
  const int64_t v = value.get<int64_t>();
  if (v < low) Reject(param, "'" + param + "' must be at least " + std::to_string(low));
  return v;
}

// The image of an image_url content part; `part` names the part ("messages[1].content[2]").
Image PartImage(const Json& p, const std::string& part, const std::string& role, const RequestSettings& settings) {
  if (role != "user") Reject(part, "'" + part + "': only user messages may carry images");
  if (!settings.vision) Reject(part, "'" + part + "': the model takes no images (it has no vision tower)");
  const Json* image_url = Member(p, "image_url");
  if (!image_url || !image_url->is_object()) {
    Reject(part + ".image_url", "'" + part + ".image_url' must be an object {\"url\": ...}");
  }
  // "detail" (OpenAI's resolution hint) is ignored: the vision tower plans its own grid.
  const std::string at = part + ".image_url.url";
  const Json* url = Member(*image_url, "url");
  if (!url) Reject(at, "'" + at + "' is required");
  if (!url->is_string()) Reject(at, "'" + at + "' must be a string");
  Result<Image> image = ImageFromUrl(url->get_ref<const std::string&>(), "'" + at + "'", settings.max_image_bytes);
  if (!image.ok()) Reject(at, image.status().message());
  return std::move(image).value();
}

// Message content: a string, or a list of parts. Text parts are joined in order; an image_url
// part puts kImagePlaceholder where it stands and its image in out.images, so that text and
// images keep their order. Other part types (audio, files) have no meaning for this model.
void Content(const Json& value, const std::string& param, const RequestSettings& settings, ChatMessage& out) {
  if (value.is_string()) {
    out.content = value.get<std::string>();
    return;
  }
  if (!value.is_array()) Reject(param, "'" + param + "' must be a string or a list of content parts");
  std::string named_placeholder;  // the first text part holding kImagePlaceholder itself
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string part = param + "[" + std::to_string(i) + "]";
    const Json& p = value[i];
    const Json type = p.is_object() ? p.value("type", Json()) : Json();
    if (type == "text") {
      const Json* t = Member(p, "text");
      if (!t) Reject(part + ".text", "'" + part + ".text' is required");
      const std::string text = String(*t, part + ".text");
      if (named_placeholder.empty() && text.find(kImagePlaceholder) != std::string::npos) {
        named_placeholder = part + ".text";
      }
      out.content += text;
    } else if (type == "image_url") {
      out.images.push_back(PartImage(p, part, out.role, settings));
      out.content += kImagePlaceholder;
    } else {
      Reject(part, "'" + part + "' must be {\"type\": \"text\", \"text\": ...} or {\"type\": \"image_url\", " +
                       "\"image_url\": {\"url\": ...}}; other content is not supported");
    }
  }
  // The placeholder in the text would stand for an image the parts do not place.
  if (!out.images.empty() && !named_placeholder.empty()) {
    Reject(named_placeholder, "'" + named_placeholder + "' holds " + kImagePlaceholder +
                                  ", which marks an image's place; send images as image_url parts");
  }
}

std::vector<ToolCall> ToolCalls(const Json& value, const std::string& param) {
  if (!value.is_array()) Reject(param, "'" + param + "' must be a list");
  std::vector<ToolCall> calls;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string at = param + "[" + std::to_string(i) + "]";
    const Json& c = value[i];
    if (!c.is_object()) Reject(at, "'" + at + "' must be an object");
    if (const Json* type = Member(c, "type"); type && String(*type, at + ".type") != "function") {
      Reject(at + ".type", "'" + at + ".type' must be \"function\"");
    }
    const Json* id = Member(c, "id");
    if (!id) Reject(at + ".id", "'" + at + ".id' is required");
    const Json* function = Member(c, "function");
    if (!function || !function->is_object()) Reject(at + ".function", "'" + at + ".function' must be an object");
    const Json* name = Member(*function, "name");
    if (!name) Reject(at + ".function.name", "'" + at + ".function.name' is required");
    ToolCall call{.id = String(*id, at + ".id"), .name = String(*name, at + ".function.name")};
    // OpenAI sends arguments as JSON text; some clients send the object itself.
    const Json* args = Member(*function, "arguments");
    if (!args) Reject(at + ".function.arguments", "'" + at + ".function.arguments' is required");
    call.arguments = args->is_object() ? args->dump() : String(*args, at + ".function.arguments");
    calls.push_back(std::move(call));
  }
  return calls;
}

ChatMessage Message(const Json& m, const std::string& at, bool last, const RequestSettings& settings) {
  if (!m.is_object()) Reject(at, "'" + at + "' must be an object");
  const Json* role_value = Member(m, "role");
  if (!role_value) Reject(at + ".role", "'" + at + ".role' is required");
  ChatMessage out;
  out.role = String(*role_value, at + ".role");
  // OpenAI's "developer" is its newer name for system instructions; V4's own developer role
  // is a different thing (a user-side turn), so it is not what an OpenAI client means.
  if (out.role == "developer") out.role = "system";
  if (out.role != "system" && out.role != "user" && out.role != "assistant" && out.role != "tool") {
    Reject(at + ".role", "'" + at + ".role': unknown role '" + out.role +
                             "' (expected system, developer, user, assistant or tool)");
  }
  const Json* content = Member(m, "content");
  if (content) Content(*content, at + ".content", settings, out);
  else if (out.role != "assistant") Reject(at + ".content", "'" + at + ".content' is required");

  if (out.role == "assistant") {
    if (const Json* r = Member(m, "reasoning_content")) out.reasoning_content = String(*r, at + ".reasoning_content");
    if (const Json* calls = Member(m, "tool_calls")) out.tool_calls = ToolCalls(*calls, at + ".tool_calls");
    // DeepSeek's prefix completion: the reply continues this last assistant message.
    if (const Json* prefix = Member(m, "prefix"); prefix && Bool(*prefix, at + ".prefix")) {
      if (!last) Reject(at + ".prefix", "'" + at + ".prefix' is only allowed on the last message");
      out.wo_eos = true;
    }
  }
  if (out.role == "tool") {
    const Json* id = Member(m, "tool_call_id");
    if (!id) Reject(at + ".tool_call_id", "'" + at + ".tool_call_id' is required for tool messages");
    out.tool_call_id = String(*id, at + ".tool_call_id");
  }
  return out;
}

// Checks the tools list and returns it as JSON text for ChatMessage::tools_json.
std::string Tools(const Json& tools) {
  if (!tools.is_array()) Reject("tools", "'tools' must be a list");
  for (std::size_t i = 0; i < tools.size(); ++i) {
    const std::string at = "tools[" + std::to_string(i) + "]";
    const Json& t = tools[i];
    if (!t.is_object() || t.value("type", Json()) != "function") {
      Reject(at + ".type", "'" + at + ".type' must be \"function\"");
    }
    const Json* function = Member(t, "function");
    if (!function || !function->is_object()) Reject(at + ".function", "'" + at + ".function' must be an object");
    const Json* name = Member(*function, "name");
    if (!name || String(*name, at + ".function.name").empty()) {
      Reject(at + ".function.name", "'" + at + ".function.name' must be a non-empty string");
    }
    if (const Json* p = Member(*function, "parameters"); p && !p->is_object()) {
      Reject(at + ".function.parameters", "'" + at + ".function.parameters' must be an object");
    }
  }
  return tools.dump();
}

ChatMode Mode(const Json& body, ChatMode fallback) {
  if (const Json* mode = Member(body, "mode")) {
    Result<ChatMode> parsed = ParseChatMode(String(*mode, "mode"));
    if (!parsed.ok()) Reject("mode", "'mode' must be \"fast\", \"expert\" or \"expert-max\"");
    return parsed.value();
  }
  std::optional<bool> thinking;
  if (const Json* t = Member(body, "thinking")) {
    const Json* type = t->is_object() ? Member(*t, "type") : nullptr;
    const std::string value = type && type->is_string() ? type->get<std::string>() : "";
    if (value != "enabled" && value != "disabled") {
      Reject("thinking.type", "'thinking.type' must be \"enabled\" or \"disabled\"");
    }
    thinking = value == "enabled";
  }
  std::optional<std::string> effort;
  if (const Json* e = Member(body, "reasoning_effort")) {
    effort = String(*e, "reasoning_effort");
    if (*effort != "low" && *effort != "medium" && *effort != "high" && *effort != "max") {
      Reject("reasoning_effort", "'reasoning_effort' must be \"low\", \"medium\", \"high\" or \"max\"");
    }
    if (thinking == false) Reject("reasoning_effort", "'reasoning_effort' needs thinking enabled");
  }
  if (thinking == false) return ChatMode::kFast;
  // V4 has one reasoning effort below the maximum; lower efforts map to it.
  if (effort) return *effort == "max" ? ChatMode::kExpertMax : ChatMode::kExpert;
  if (thinking == true) return fallback == ChatMode::kExpertMax ? ChatMode::kExpertMax : ChatMode::kExpert;
  return fallback;
}

void Sampling(const Json& body, int64_t vocab_size, SamplingParams& s) {
  if (const Json* v = Member(body, "temperature")) s.temperature = static_cast<float>(Number(*v, "temperature", 0, 2));
  if (const Json* v = Member(body, "top_p")) {
    s.top_p = static_cast<float>(Number(*v, "top_p", 0, 1));
    if (s.top_p <= 0) Reject("top_p", "'top_p' must be greater than 0");
  }
  if (const Json* v = Member(body, "top_k")) s.top_k = static_cast<int>(std::min<int64_t>(Integer(*v, "top_k", 0), 1 << 30));
  if (const Json* v = Member(body, "min_p")) s.min_p = static_cast<float>(Number(*v, "min_p", 0, 1));
  if (const Json* v = Member(body, "repetition_penalty")) {
    s.repetition_penalty = static_cast<float>(Number(*v, "repetition_penalty", 0, 10));
    if (s.repetition_penalty <= 0) Reject("repetition_penalty", "'repetition_penalty' must be greater than 0");
  }
  if (const Json* v = Member(body, "frequency_penalty")) {
    s.frequency_penalty = static_cast<float>(Number(*v, "frequency_penalty", -2, 2));
  }
  if (const Json* v = Member(body, "presence_penalty")) {
    s.presence_penalty = static_cast<float>(Number(*v, "presence_penalty", -2, 2));
  }
  if (const Json* v = Member(body, "seed")) {
    if (!v->is_number_integer()) Reject("seed", "'seed' must be an integer");
    s.seed = v->is_number_unsigned() ? v->get<uint64_t>() : static_cast<uint64_t>(v->get<int64_t>());
  } else {
    s.seed = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  }
  if (const Json* bias = Member(body, "logit_bias")) {
    if (!bias->is_object()) Reject("logit_bias", "'logit_bias' must be an object of token id → bias");
    for (const auto& [key, value] : bias->items()) {
      const std::string at = "logit_bias." + key;
      int64_t id = -1;
      std::size_t used = 0;
      try {
        id = std::stoll(key, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != key.size() || id < 0 || id > std::numeric_limits<int32_t>::max()) {
        Reject(at, "'" + at + "': logit_bias keys must be token ids (non-negative integers)");
      }
      if (vocab_size > 0 && id >= vocab_size) {
        Reject(at, "'" + at + "': token id " + key + " is outside the vocabulary of " + std::to_string(vocab_size));
      }
      const double b = Number(value, at, -100, 100);
      // OpenAI documents -100 as banning the token; the sampler bans with -inf.
      const float applied = b <= -100 ? -std::numeric_limits<float>::infinity() : static_cast<float>(b);
      s.logit_bias.emplace_back(static_cast<int32_t>(id), applied);
    }
  }
}

std::vector<std::string> StopStrings(const Json& stop) {
  std::vector<std::string> out;
  if (stop.is_string()) {
    out.push_back(stop.get<std::string>());
  } else if (stop.is_array()) {
    if (stop.size() > 4) Reject("stop", "'stop' may hold at most 4 strings");
    for (std::size_t i = 0; i < stop.size(); ++i) out.push_back(String(stop[i], "stop[" + std::to_string(i) + "]"));
  } else {
    Reject("stop", "'stop' must be a string or a list of strings");
  }
  for (const std::string& s : out) {
    if (s.empty()) Reject("stop", "'stop' strings must not be empty");
  }
  return out;
}

ChatRequest Parse(const Json& body, const RequestSettings& settings) {
  if (!body.is_object()) Reject("", "the request body must be a JSON object");
  ChatRequest request;
  if (const Json* model = Member(body, "model")) String(*model, "model");  // one model is served, whatever its name

  const Json* messages = Member(body, "messages");
  if (!messages) Reject("messages", "'messages' is required");
  if (!messages->is_array() || messages->empty()) Reject("messages", "'messages' must be a non-empty list");
  for (std::size_t i = 0; i < messages->size(); ++i) {
    request.messages.push_back(
        Message((*messages)[i], "messages[" + std::to_string(i) + "]", i + 1 == messages->size(), settings));
  }

  bool use_tools = true;
  if (const Json* choice = Member(body, "tool_choice")) {
    const std::string value = choice->is_string() ? choice->get<std::string>() : "";
    if (value != "auto" && value != "none") {
      Reject("tool_choice", "'tool_choice' must be \"auto\" or \"none\" (forcing a tool is not supported)");
    }
    use_tools = value == "auto";
  }
  if (const Json* tools = Member(body, "tools")) {
    std::string tools_json = Tools(*tools);
    // V4 takes the tools on a system message: the first one, or a new empty one in front.
    if (use_tools && !tools->empty()) {
      if (request.messages.front().role != "system") request.messages.insert(request.messages.begin(), {.role = "system"});
      request.messages.front().tools_json = std::move(tools_json);
    }
  }

  if (const Json* n = Member(body, "n"); n && Integer(*n, "n", 1) != 1) Reject("n", "'n' must be 1");
  if (const Json* lp = Member(body, "logprobs"); lp && Bool(*lp, "logprobs")) {
    Reject("logprobs", "'logprobs' is not supported");
  }
  if (const Json* format = Member(body, "response_format")) {
    if (!format->is_object() || format->value("type", Json()) != "text") {
      Reject("response_format", "'response_format' supports only {\"type\": \"text\"}");
    }
  }

  request.format.mode = Mode(body, settings.mode);
  Sampling(body, settings.vocab_size, request.params.sampling);
  request.params.max_tokens = settings.max_tokens;
  if (const Json* v = Member(body, "max_tokens")) request.params.max_tokens = Integer(*v, "max_tokens", 1);
  // OpenAI's newer name wins over the deprecated one.
  if (const Json* v = Member(body, "max_completion_tokens")) {
    request.params.max_tokens = Integer(*v, "max_completion_tokens", 1);
  }
  if (const Json* stop = Member(body, "stop")) request.params.stop_strings = StopStrings(*stop);

  if (const Json* stream = Member(body, "stream")) request.stream = Bool(*stream, "stream");
  if (const Json* options = Member(body, "stream_options")) {
    if (!options->is_object()) Reject("stream_options", "'stream_options' must be an object");
    if (const Json* usage = Member(*options, "include_usage")) {
      request.include_usage = Bool(*usage, "stream_options.include_usage");
    }
  }
  return request;
}

Json ToolCallJson(const ToolCall& call) {
  return {{"id", call.id}, {"type", "function"}, {"function", {{"name", call.name}, {"arguments", call.arguments}}}};
}

}  // namespace

Json ErrorBody(const ApiError& error) {
  return {{"error",
           {{"message", error.message},
            {"type", error.type},
            {"param", error.param.empty() ? Json() : Json(error.param)},
            {"code", error.code.empty() ? Json() : Json(error.code)}}}};
}

ApiError ErrorFromStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return {.http_status = 400, .message = status.message()};
    case StatusCode::kOutOfRange:
      return {.http_status = 400, .message = status.message(), .code = "context_length_exceeded"};
    default:
      return {.http_status = 500, .message = status.ToString(), .type = "server_error"};
  }
}

std::variant<ChatRequest, ApiError> ParseChatRequest(std::string_view body, const RequestSettings& settings) {
  // Without exceptions: invalid JSON (including invalid UTF-8 in strings) gives a discarded value.
  const Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return ApiError{.message = "the request body is not valid JSON"};
  try {
    return Parse(json, settings);
  } catch (const BadRequest& bad) {
    return ApiError{.message = bad.message, .param = bad.param};
  }
}

std::string NewCompletionId() {
  thread_local std::mt19937_64 rng(
      (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}());
  char hex[25];
  std::snprintf(hex, sizeof hex, "%08llx%016llx", static_cast<unsigned long long>(rng() & 0xffffffffu),
                static_cast<unsigned long long>(rng()));
  return std::string("chatcmpl-") + hex;
}

void AssignToolCallIds(ChatMessage& message, std::string_view completion_id) {
  std::string_view suffix = completion_id;
  if (const std::size_t dash = suffix.rfind('-'); dash != std::string_view::npos) suffix.remove_prefix(dash + 1);
  for (std::size_t i = 0; i < message.tool_calls.size(); ++i) {
    ToolCall& call = message.tool_calls[i];
    if (call.id.empty()) call.id = "call_" + std::string(suffix) + "_" + std::to_string(i);
  }
}

const char* FinishReasonText(const ChatReply& reply) {
  switch (reply.generation.finish) {
    case FinishReason::kMaxTokens:
    case FinishReason::kContextFull:
      return "length";
    case FinishReason::kEos:
    case FinishReason::kStopString:
    case FinishReason::kCancelled:
      break;
  }
  return reply.message.tool_calls.empty() ? "stop" : "tool_calls";
}

Json UsageJson(const GenerationStats& stats) {
  return {{"prompt_tokens", stats.prompt_tokens},
          {"completion_tokens", stats.generated_tokens},
          {"total_tokens", stats.prompt_tokens + stats.generated_tokens},
          {"prompt_tokens_details", {{"cached_tokens", stats.reused_tokens}}}};
}

Json CompletionJson(const CompletionIds& ids, const ChatReply& reply) {
  const ChatMessage& m = reply.message;
  Json message = {{"role", "assistant"}};
  // OpenAI's content is null for a reply that only calls tools.
  message["content"] = m.content.empty() && !m.tool_calls.empty() ? Json() : Json(m.content);
  if (!m.reasoning_content.empty()) message["reasoning_content"] = m.reasoning_content;
  if (!m.tool_calls.empty()) {
    Json calls = Json::array();
    for (const ToolCall& call : m.tool_calls) calls.push_back(ToolCallJson(call));
    message["tool_calls"] = std::move(calls);
  }
  return {{"id", ids.id},
          {"object", "chat.completion"},
          {"created", ids.created},
          {"model", ids.model},
          {"choices",
           Json::array({{{"index", 0}, {"message", std::move(message)}, {"logprobs", nullptr},
                         {"finish_reason", FinishReasonText(reply)}}})},
          {"usage", UsageJson(reply.generation.stats)}};
}

std::string JsonText(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string SseEvent(const Json& data) { return "data: " + JsonText(data) + "\n\n"; }

ChunkStream::ChunkStream(CompletionIds ids, bool include_usage) : ids_(std::move(ids)), include_usage_(include_usage) {}

Json ChunkStream::Chunk(Json delta, const Json& finish_reason) const {
  return {{"id", ids_.id},
          {"object", "chat.completion.chunk"},
          {"created", ids_.created},
          {"model", ids_.model},
          {"choices", Json::array({{{"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr},
                                    {"finish_reason", finish_reason}}})}};
}

std::string ChunkStream::Start() const { return SseEvent(Chunk({{"role", "assistant"}, {"content", ""}}, nullptr)); }

std::string ChunkStream::Piece(ChatChannel channel, std::string_view text) const {
  if (text.empty() || channel == ChatChannel::kToolCall) return "";
  const char* field = channel == ChatChannel::kReasoning ? "reasoning_content" : "content";
  return SseEvent(Chunk({{field, text}}, nullptr));
}

std::string ChunkStream::Finish(const ChatReply& reply) const {
  std::string out;
  if (!reply.message.tool_calls.empty()) {
    Json calls = Json::array();
    for (std::size_t i = 0; i < reply.message.tool_calls.size(); ++i) {
      Json call = {{"index", i}};  // first, as OpenAI writes it
      call.update(ToolCallJson(reply.message.tool_calls[i]));
      calls.push_back(std::move(call));
    }
    out += SseEvent(Chunk({{"tool_calls", std::move(calls)}}, nullptr));
  }
  out += SseEvent(Chunk(Json::object(), FinishReasonText(reply)));
  if (include_usage_) {
    out += SseEvent({{"id", ids_.id},
                     {"object", "chat.completion.chunk"},
                     {"created", ids_.created},
                     {"model", ids_.model},
                     {"choices", Json::array()},
                     {"usage", UsageJson(reply.generation.stats)}});
  }
  out += kSseDone;
  return out;
}

Json ModelJson(const std::string& model_id, int64_t created) {
  return {{"id", model_id}, {"object", "model"}, {"created", created}, {"owned_by", "deepseek"}};
}

Json ModelsJson(const std::string& model_id, int64_t created) {
  return {{"object", "list"}, {"data", Json::array({ModelJson(model_id, created)})}};
}

}  // namespace deepseek::server

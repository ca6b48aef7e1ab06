// The OpenAI ⇄ deepseek conversion of deepseek-server: request parsing (every refusal names its
// field), the history's tool calls and results as ChatMessages, the mode fields, and the shapes
// of responses and stream chunks, including tool calls — which the random-weight test model
// never makes itself, so they are checked here on hand-made replies.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "base64_encode.h"
#include "image_test_files.h"
#include "openai_api.h"

namespace deepseek::server {
namespace {

ChatRequest Parsed(const std::string& body, const RequestSettings& settings = {}) {
  auto result = ParseChatRequest(body, settings);
  if (const ApiError* e = std::get_if<ApiError>(&result)) FAIL_CHECK("unexpected error: " << e->message);
  REQUIRE(std::holds_alternative<ChatRequest>(result));
  return std::get<ChatRequest>(std::move(result));
}

ApiError Refused(const std::string& body) {
  auto result = ParseChatRequest(body, {.vocab_size = 512});
  REQUIRE_MESSAGE(std::holds_alternative<ApiError>(result), "accepted: " << body);
  return std::get<ApiError>(std::move(result));
}

const std::string kUser = R"({"role": "user", "content": "Hi"})";

std::string WithUser(const std::string& fields) { return R"({"messages": [)" + kUser + "], " + fields + "}"; }

// The data of each "data: ...\n\n" event.
std::vector<std::string> Events(const std::string& sse) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < sse.size()) {
    REQUIRE(sse.compare(at, 6, "data: ") == 0);
    const std::size_t end = sse.find("\n\n", at);
    REQUIRE(end != std::string::npos);
    out.push_back(sse.substr(at + 6, end - at - 6));
    at = end + 2;
  }
  return out;
}

ChatReply ToolReply() {
  ChatReply reply;
  reply.message.role = "assistant";
  reply.message.reasoning_content = "The user wants the weather.";
  reply.message.tool_calls = {{.name = "get_weather", .arguments = R"({"city": "Paris"})"},
                              {.name = "get_time", .arguments = R"({"zone": "CET"})"}};
  reply.generation.finish = FinishReason::kEos;
  reply.generation.stats.prompt_tokens = 40;
  reply.generation.stats.reused_tokens = 12;
  reply.generation.stats.generated_tokens = 25;
  return reply;
}

TEST_CASE("a minimal request takes the defaults") {
  const ChatRequest r = Parsed(R"({"model": "m", "messages": [)" + kUser + "]}",
                               {.mode = ChatMode::kFast, .max_tokens = 77});
  REQUIRE(r.messages.size() == 1);
  CHECK(r.messages[0].role == "user");
  CHECK(r.messages[0].content == "Hi");
  CHECK(r.format.mode == ChatMode::kFast);
  CHECK(r.params.max_tokens == 77);
  CHECK(r.params.stop_strings.empty());
  CHECK_FALSE(r.stream);
  CHECK_FALSE(r.include_usage);
}

TEST_CASE("sampling and length and stop and stream fields") {
  const ChatRequest r = Parsed(WithUser(
      R"("temperature": 0.5, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "repetition_penalty": 1.1,
         "frequency_penalty": 0.5, "presence_penalty": -1, "seed": 42, "max_tokens": 10,
         "max_completion_tokens": 20, "stop": ["END", "###"], "logit_bias": {"5": 2.5, "7": -100},
         "stream": true, "stream_options": {"include_usage": true}, "n": 1, "logprobs": false,
         "user": "ignored", "tool_choice": "auto", "response_format": {"type": "text"})"));
  const SamplingParams& s = r.params.sampling;
  CHECK(s.temperature == doctest::Approx(0.5));
  CHECK(s.top_p == doctest::Approx(0.9));
  CHECK(s.top_k == 40);
  CHECK(s.min_p == doctest::Approx(0.05));
  CHECK(s.repetition_penalty == doctest::Approx(1.1));
  CHECK(s.frequency_penalty == doctest::Approx(0.5));
  CHECK(s.presence_penalty == doctest::Approx(-1));
  CHECK(s.seed == 42);
  REQUIRE(s.logit_bias.size() == 2);
  CHECK(s.logit_bias[0] == std::pair<int32_t, float>{5, 2.5f});
  CHECK(s.logit_bias[1].first == 7);
  CHECK(std::isinf(s.logit_bias[1].second));  // -100 bans, as OpenAI documents
  CHECK(s.logit_bias[1].second < 0);
  CHECK(r.params.max_tokens == 20);  // max_completion_tokens wins over max_tokens
  CHECK(r.params.stop_strings == std::vector<std::string>{"END", "###"});
  CHECK(r.stream);
  CHECK(r.include_usage);

  CHECK(Parsed(WithUser(R"("stop": "x")")).params.stop_strings == std::vector<std::string>{"x"});
  CHECK(Parsed(WithUser(R"("max_tokens": 5)")).params.max_tokens == 5);
  // Nulls are absent fields, as clients send them.
  const ChatRequest nulls = Parsed(WithUser(R"("temperature": null, "stop": null, "tools": null, "seed": null)"));
  CHECK(nulls.params.sampling.temperature == doctest::Approx(1.0));
  CHECK(nulls.messages.size() == 1);
}

TEST_CASE("the mode from mode or thinking or reasoning_effort") {
  const auto mode = [](const std::string& fields, ChatMode fallback = ChatMode::kExpert) {
    return Parsed(WithUser(fields), {.mode = fallback}).format.mode;
  };
  CHECK(mode(R"("mode": "fast")") == ChatMode::kFast);
  CHECK(mode(R"("mode": "expert")", ChatMode::kFast) == ChatMode::kExpert);
  CHECK(mode(R"("mode": "expert-max")") == ChatMode::kExpertMax);
  CHECK(mode(R"("mode": "fast", "thinking": {"type": "enabled"})") == ChatMode::kFast);  // mode wins
  CHECK(mode(R"("thinking": {"type": "disabled"})") == ChatMode::kFast);
  CHECK(mode(R"("thinking": {"type": "enabled"})", ChatMode::kFast) == ChatMode::kExpert);
  CHECK(mode(R"("thinking": {"type": "enabled"})", ChatMode::kExpertMax) == ChatMode::kExpertMax);
  CHECK(mode(R"("reasoning_effort": "max")", ChatMode::kFast) == ChatMode::kExpertMax);
  CHECK(mode(R"("reasoning_effort": "high")", ChatMode::kFast) == ChatMode::kExpert);
  CHECK(mode(R"("thinking": {"type": "enabled"}, "reasoning_effort": "max")") == ChatMode::kExpertMax);
  CHECK(mode("\"x\": 1", ChatMode::kExpertMax) == ChatMode::kExpertMax);
}

TEST_CASE("content parts and developer messages and prefix completion") {
  const ChatRequest r = Parsed(R"({"messages": [
      {"role": "developer", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}]},
      {"role": "assistant", "content": "Hel", "prefix": true}]})");
  REQUIRE(r.messages.size() == 3);
  CHECK(r.messages[0].role == "system");  // OpenAI's developer is system instructions
  CHECK(r.messages[1].content == "Hello, world");
  CHECK(r.messages[2].wo_eos);
}

// A user message of content parts, each part given as JSON text.
std::string UserParts(const std::vector<std::string>& parts) {
  std::string list;
  for (const std::string& part : parts) list += (list.empty() ? "" : ", ") + part;
  return R"({"messages": [{"role": "user", "content": [)" + list + "]}]}";
}

std::string TextPart(const std::string& text) { return R"({"type": "text", "text": ")" + text + R"("})"; }

std::string ImagePart(const std::string& url, const std::string& extra = "") {
  return R"({"type": "image_url", "image_url": {"url": ")" + url + "\"" + extra + "}}";
}

std::string PngDataUrl() { return "data:image/png;base64," + testing::EncodeBase64(testing::GoldenPng()); }

const RequestSettings kVision{.vocab_size = 512, .vision = true};

TEST_CASE("image_url parts stand where they are among the text parts") {
  const std::string png = PngDataUrl();
  const ChatRequest r = Parsed(UserParts({TextPart("Compare "), ImagePart(png, R"(, "detail": "high")"),
                                          TextPart(" with "), ImagePart(testing::kJpegDataUrl, R"(, "detail": "low")"),
                                          TextPart(", then "), ImagePart(png), TextPart("?")}),
                               kVision);
  REQUIRE(r.messages.size() == 1);
  const ChatMessage& m = r.messages[0];
  const std::string img = kImagePlaceholder;
  CHECK(m.content == "Compare " + img + " with " + img + ", then " + img + "?");
  REQUIRE(m.images.size() == 3);
  const std::string bytes = testing::GoldenPng();
  const Result<Image> expected = Image::Decode(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  REQUIRE(expected.ok());
  CHECK(m.images[0].rgb == expected.value().rgb);
  CHECK(m.images[1].width == 4);  // the JPEG, second as sent
  CHECK(m.images[2].rgb == expected.value().rgb);
  // The chat format takes the message: as many placeholders as images.
  CHECK(EncodeChat(r.messages, r.format).ok());

  // Images alone, first or last, and a later user turn after an earlier one with an image.
  CHECK(Parsed(UserParts({ImagePart(png)}), kVision).messages[0].content == img);
  CHECK(Parsed(UserParts({ImagePart(png), TextPart("What is it?")}), kVision).messages[0].content == img + "What is it?");
  const ChatRequest turns = Parsed(R"({"messages": [{"role": "user", "content": [)" + ImagePart(png) +
                                       R"(]}, {"role": "assistant", "content": "A cat."},
                                          {"role": "user", "content": [{"type": "text", "text": "And this?"}, )" +
                                       ImagePart(testing::kJpegDataUrl) + "]}]}",
                                   kVision);
  REQUIRE(turns.messages.size() == 3);
  CHECK(turns.messages[0].images.size() == 1);
  CHECK(turns.messages[1].images.empty());
  CHECK(turns.messages[2].content == "And this?" + img);
  CHECK(turns.messages[2].images.size() == 1);
  CHECK(EncodeChat(turns.messages, turns.format).ok());
  // Text parts alone on a model with vision are plain text.
  CHECK(Parsed(UserParts({TextPart("a"), TextPart("b")}), kVision).messages[0].images.empty());
}

TEST_CASE("image_url parts that cannot be taken are refused with 400 naming the part") {
  const std::string png = PngDataUrl();
  struct Case {
    std::string body;
    std::string param;
    std::string says;
    RequestSettings settings = kVision;
  };
  const std::string url1 = "messages[0].content[1].image_url.url";
  const std::vector<Case> cases = {
      {UserParts({TextPart("x"), ImagePart(png)}), "messages[0].content[1]", "the model takes no images",
       {.vocab_size = 512}},
      {UserParts({TextPart("x"), ImagePart("https://example.com/cat.png")}), url1, "only data URLs"},
      {UserParts({TextPart("x"), ImagePart("http://example.com/cat.png")}), url1, "does not fetch"},
      {UserParts({TextPart("x"), ImagePart("data:image/png;base64,iVBO!w0K")}), url1, "not a base64 character"},
      {UserParts({TextPart("x"), ImagePart("data:image/png;base64,iVBORw0KGgo")}), url1, "not a multiple of 4"},
      {UserParts({TextPart("x"), ImagePart("data:image/png;base64,aGVsbG8gd29ybGQh")}), url1, "not a PNG or JPEG"},
      {UserParts({TextPart("x"), ImagePart("data:text/plain;base64,aGVsbG8=")}), url1, "not an image"},
      {UserParts({TextPart("x"), ImagePart(png)}), url1, "the limit is 100",
       {.vocab_size = 512, .vision = true, .max_image_bytes = 100}},
      {UserParts({R"({"type": "image_url"})"}), "messages[0].content[0].image_url", "must be an object"},
      {UserParts({R"({"type": "image_url", "image_url": "data:image/png;base64,AAAA"})"}),
       "messages[0].content[0].image_url", "must be an object"},
      {UserParts({R"({"type": "image_url", "image_url": {"detail": "auto"}})"}), "messages[0].content[0].image_url.url",
       "is required"},
      {UserParts({R"({"type": "image_url", "image_url": {"url": 5}})"}), "messages[0].content[0].image_url.url",
       "must be a string"},
      {UserParts({TextPart("see "), ImagePart(png), TextPart(std::string("and ") + kImagePlaceholder)}),
       "messages[0].content[2].text", "marks an image's place"},
      {R"({"messages": [{"role": "system", "content": [)" + ImagePart(png) + "]}]}", "messages[0].content[0]",
       "only user messages may carry images"},
      {R"({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": [)" + ImagePart(png) + "]}]}",
       "messages[1].content[0]", "only user messages may carry images"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.body.substr(0, 200));
    auto result = ParseChatRequest(c.body, c.settings);
    REQUIRE(std::holds_alternative<ApiError>(result));
    const ApiError& e = std::get<ApiError>(result);
    CHECK(e.http_status == 400);
    CHECK(e.type == "invalid_request_error");
    CHECK(e.param == c.param);
    CHECK_MESSAGE(e.message.find(c.says) != std::string::npos, e.message);
    CHECK_MESSAGE(e.message.find("'" + c.param + "'") != std::string::npos, e.message);
  }
}

TEST_CASE("tool calls and tool results in the history become ChatMessages") {
  const ChatRequest r = Parsed(R"({"messages": [
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": null, "reasoning_content": "Use the tool.",
       "tool_calls": [{"id": "call_1", "type": "function",
                       "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
                      {"id": "call_2", "type": "function",
                       "function": {"name": "get_time", "arguments": {"zone": "CET"}}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "18 C"},
      {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "14:00"}]}],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]})");
  REQUIRE(r.messages.size() == 5);
  CHECK(r.messages[0].content == "You are helpful.");
  // The tools ride on the system message, key order as sent (it is echoed into the prompt).
  CHECK(r.messages[0].tools_json ==
        R"([{"type":"function","function":{"name":"get_weather","description":"d","parameters":{"type":"object",)"
        R"("properties":{"city":{"type":"string"}},"required":["city"]}}}])");
  const ChatMessage& a = r.messages[2];
  CHECK(a.role == "assistant");
  CHECK(a.content.empty());
  CHECK(a.reasoning_content == "Use the tool.");
  REQUIRE(a.tool_calls.size() == 2);
  CHECK(a.tool_calls[0].id == "call_1");
  CHECK(a.tool_calls[0].name == "get_weather");
  CHECK(a.tool_calls[0].arguments == R"({"city": "Paris"})");
  CHECK(a.tool_calls[1].arguments == R"({"zone":"CET"})");  // an object is written as JSON text
  CHECK(r.messages[3].role == "tool");
  CHECK(r.messages[3].tool_call_id == "call_1");
  CHECK(r.messages[3].content == "18 C");
  CHECK(r.messages[4].tool_call_id == "call_2");
  CHECK(r.messages[4].content == "14:00");

  // The result encodes: the chat format accepts the converted conversation.
  CHECK(EncodeChat(r.messages, r.format).ok());
}

TEST_CASE("tools without a system message get an empty one and tool_choice none drops them") {
  const std::string tools = R"("tools": [{"type": "function", "function": {"name": "f"}}])";
  const ChatRequest r = Parsed(WithUser(tools));
  REQUIRE(r.messages.size() == 2);
  CHECK(r.messages[0].role == "system");
  CHECK(r.messages[0].content.empty());
  CHECK(r.messages[0].tools_json == R"([{"type":"function","function":{"name":"f"}}])");
  CHECK(EncodeChat(r.messages, r.format).ok());

  const ChatRequest none = Parsed(WithUser(tools + R"(, "tool_choice": "none")"));
  REQUIRE(none.messages.size() == 1);
  CHECK(none.messages[0].tools_json.empty());
  CHECK(Parsed(WithUser(R"("tools": [])")).messages.size() == 1);
}

TEST_CASE("every malformed request is refused with 400 naming the field") {
  struct Case {
    std::string body;
    std::string param;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"{not json", "", "not valid JSON"},
      {"[1, 2]", "", "JSON object"},
      {"{\"messages\": [{\"role\": \"user\", \"content\": \"\xff\"}]}", "", "not valid JSON"},
      {R"({"model": "m"})", "messages", "'messages' is required"},
      {R"({"messages": []})", "messages", "non-empty list"},
      {R"({"messages": {"role": "user"}})", "messages", "non-empty list"},
      {R"({"messages": ["hi"]})", "messages[0]", "must be an object"},
      {R"({"messages": [{"content": "x"}]})", "messages[0].role", "is required"},
      {R"({"messages": [{"role": 3, "content": "x"}]})", "messages[0].role", "must be a string"},
      {R"({"messages": [{"role": "wizard", "content": "x"}]})", "messages[0].role", "unknown role 'wizard'"},
      {R"({"messages": [{"role": "function", "content": "x"}]})", "messages[0].role", "unknown role"},
      {R"({"messages": [{"role": "user"}]})", "messages[0].content", "is required"},
      {R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content", "string or a list"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]})",
       "messages[0].content[0]", "the model takes no images"},
      {R"({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]})",
       "messages[0].content[0]", "other content is not supported"},
      {R"({"messages": [{"role": "user", "content": ["hi"]}]})", "messages[0].content[0]", "\"type\": \"text\""},
      {R"({"messages": [{"role": "user", "content": [{"type": "text"}]}]})", "messages[0].content[0].text",
       "is required"},
      {R"({"messages": [{"role": "tool", "content": "x"}]})", "messages[0].tool_call_id", "is required"},
      {R"({"messages": [{"role": "assistant", "reasoning_content": 1}]})", "messages[0].reasoning_content",
       "must be a string"},
      {R"({"messages": [{"role": "assistant", "tool_calls": {}}]})", "messages[0].tool_calls", "must be a list"},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]}]})",
       "messages[0].tool_calls[0].id", "is required"},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "code", "function": {}}]}]})",
       "messages[0].tool_calls[0].type", "\"function\""},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]}]})",
       "messages[0].tool_calls[0].function.name", "is required"},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f"}}]}]})",
       "messages[0].tool_calls[0].function.arguments", "is required"},
      {R"({"messages": [{"role": "assistant", "content": "a", "prefix": true}, {"role": "user", "content": "b"}]})",
       "messages[0].prefix", "last message"},
      {WithUser(R"("model": 1)"), "model", "must be a string"},
      {WithUser(R"("tools": {})"), "tools", "must be a list"},
      {WithUser(R"("tools": [{"type": "retrieval"}])"), "tools[0].type", "\"function\""},
      {WithUser(R"("tools": [{"type": "function"}])"), "tools[0].function", "must be an object"},
      {WithUser(R"("tools": [{"type": "function", "function": {"name": ""}}])"), "tools[0].function.name",
       "non-empty"},
      {WithUser(R"("tools": [{"type": "function", "function": {"name": "f", "parameters": 1}}])"),
       "tools[0].function.parameters", "must be an object"},
      {WithUser(R"("tool_choice": "required")"), "tool_choice", "not supported"},
      {WithUser(R"("tool_choice": {"type": "function", "function": {"name": "f"}})"), "tool_choice", "not supported"},
      {WithUser(R"("temperature": "hot")"), "temperature", "must be a number"},
      {WithUser(R"("temperature": 2.5)"), "temperature", "between 0 and 2"},
      {WithUser(R"("top_p": 0)"), "top_p", "greater than 0"},
      {WithUser(R"("top_p": 1.5)"), "top_p", "between"},
      {WithUser(R"("top_k": -1)"), "top_k", "at least 0"},
      {WithUser(R"("min_p": 2)"), "min_p", "between"},
      {WithUser(R"("repetition_penalty": 0)"), "repetition_penalty", "greater than 0"},
      {WithUser(R"("frequency_penalty": 3)"), "frequency_penalty", "between -2 and 2"},
      {WithUser(R"("presence_penalty": -2.5)"), "presence_penalty", "between -2 and 2"},
      {WithUser(R"("seed": 1.5)"), "seed", "must be an integer"},
      {WithUser(R"("max_tokens": 0)"), "max_tokens", "at least 1"},
      {WithUser(R"("max_tokens": 2.5)"), "max_tokens", "must be an integer"},
      {WithUser(R"("max_tokens": 18446744073709551615)"), "max_tokens", "too large"},
      {WithUser(R"("max_completion_tokens": "many")"), "max_completion_tokens", "must be an integer"},
      {WithUser(R"("stop": 5)"), "stop", "string or a list"},
      {WithUser(R"("stop": ["a", 1])"), "stop[1]", "must be a string"},
      {WithUser(R"("stop": [""])"), "stop", "must not be empty"},
      {WithUser(R"("stop": ["a", "b", "c", "d", "e"])"), "stop", "at most 4"},
      {WithUser(R"("logit_bias": [1])"), "logit_bias", "must be an object"},
      {WithUser(R"("logit_bias": {"abc": 1})"), "logit_bias.abc", "token ids"},
      {WithUser(R"("logit_bias": {"-3": 1})"), "logit_bias.-3", "token ids"},
      {WithUser(R"("logit_bias": {"5": 101})"), "logit_bias.5", "between -100 and 100"},
      {WithUser(R"("logit_bias": {"512": 1})"), "logit_bias.512", "outside the vocabulary of 512"},
      {WithUser(R"("n": 2)"), "n", "must be 1"},
      {WithUser(R"("logprobs": true)"), "logprobs", "not supported"},
      {WithUser(R"("response_format": {"type": "json_object"})"), "response_format", "only"},
      {WithUser(R"("stream": "yes")"), "stream", "must be a boolean"},
      {WithUser(R"("stream_options": true)"), "stream_options", "must be an object"},
      {WithUser(R"("stream_options": {"include_usage": 1})"), "stream_options.include_usage", "must be a boolean"},
      {WithUser(R"("mode": "turbo")"), "mode", "\"fast\", \"expert\" or \"expert-max\""},
      {WithUser(R"("mode": 1)"), "mode", "must be a string"},
      {WithUser(R"("thinking": {"type": "maybe"})"), "thinking.type", "enabled"},
      {WithUser(R"("thinking": true)"), "thinking.type", "enabled"},
      {WithUser(R"("reasoning_effort": "extreme")"), "reasoning_effort", "\"max\""},
      {WithUser(R"("thinking": {"type": "disabled"}, "reasoning_effort": "max")"), "reasoning_effort",
       "needs thinking"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.body);
    const ApiError e = Refused(c.body);
    CHECK(e.http_status == 400);
    CHECK(e.type == "invalid_request_error");
    CHECK(e.param == c.param);
    CHECK_MESSAGE(e.message.find(c.says) != std::string::npos, e.message);
    if (!c.param.empty()) CHECK_MESSAGE(e.message.find(c.param) != std::string::npos, e.message);
  }
}

TEST_CASE("error bodies and library failures") {
  const Json body = ErrorBody({.message = "bad", .param = "messages[0].role"});
  CHECK(body == Json::parse(R"({"error": {"message": "bad", "type": "invalid_request_error",
                                          "param": "messages[0].role", "code": null}})"));
  CHECK(ErrorBody({.message = "x"})["error"]["param"].is_null());

  const ApiError bad = ErrorFromStatus(Status(StatusCode::kInvalidArgument, "messages[1]: no"));
  CHECK(bad.http_status == 400);
  CHECK(bad.message == "messages[1]: no");
  const ApiError long_prompt = ErrorFromStatus(Status(StatusCode::kOutOfRange, "prompt too long"));
  CHECK(long_prompt.http_status == 400);
  CHECK(long_prompt.code == "context_length_exceeded");
  const ApiError internal = ErrorFromStatus(Status(StatusCode::kIoError, "disk"));
  CHECK(internal.http_status == 500);
  CHECK(internal.type == "server_error");
}

TEST_CASE("a reply with tool calls gets finish_reason tool_calls and generated ids and usage") {
  ChatReply reply = ToolReply();
  const std::string id = NewCompletionId();
  CHECK(id.rfind("chatcmpl-", 0) == 0);
  CHECK(id.size() == 9 + 24);
  CHECK(NewCompletionId() != id);
  AssignToolCallIds(reply.message, id);
  const std::string suffix = id.substr(9);
  CHECK(reply.message.tool_calls[0].id == "call_" + suffix + "_0");
  CHECK(reply.message.tool_calls[1].id == "call_" + suffix + "_1");

  const Json j = CompletionJson({.id = id, .created = 1700000000, .model = "tiny"}, reply);
  CHECK(j["id"] == id);
  CHECK(j["object"] == "chat.completion");
  CHECK(j["created"] == 1700000000);
  CHECK(j["model"] == "tiny");
  REQUIRE(j["choices"].size() == 1);
  const Json& choice = j["choices"][0];
  CHECK(choice["index"] == 0);
  CHECK(choice["finish_reason"] == "tool_calls");
  const Json& m = choice["message"];
  CHECK(m["role"] == "assistant");
  CHECK(m["content"].is_null());
  CHECK(m["reasoning_content"] == "The user wants the weather.");
  REQUIRE(m["tool_calls"].size() == 2);
  CHECK(m["tool_calls"][0] == Json::parse(R"({"id": "call_)" + suffix + R"(_0", "type": "function",
      "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}})"));
  CHECK(m["tool_calls"][1]["function"]["name"] == "get_time");
  CHECK(j["usage"] == Json::parse(R"({"prompt_tokens": 40, "completion_tokens": 25, "total_tokens": 65,
                                      "prompt_tokens_details": {"cached_tokens": 12}})"));

  // Ids the reply already carries are kept.
  ChatMessage named;
  named.tool_calls = {{.id = "mine", .name = "f"}};
  AssignToolCallIds(named, id);
  CHECK(named.tool_calls[0].id == "mine");
}

TEST_CASE("plain replies with their finish reasons and fields") {
  ChatReply reply;
  reply.message.content = "Hello";
  reply.generation.finish = FinishReason::kEos;
  Json m = CompletionJson({.id = "chatcmpl-1"}, reply)["choices"][0]["message"];
  CHECK(m["content"] == "Hello");
  CHECK_FALSE(m.contains("reasoning_content"));  // fast mode: none
  CHECK_FALSE(m.contains("tool_calls"));
  CHECK(std::string(FinishReasonText(reply)) == "stop");
  reply.generation.finish = FinishReason::kStopString;
  CHECK(std::string(FinishReasonText(reply)) == "stop");
  reply.generation.finish = FinishReason::kMaxTokens;
  CHECK(std::string(FinishReasonText(reply)) == "length");
  reply.generation.finish = FinishReason::kContextFull;
  CHECK(std::string(FinishReasonText(reply)) == "length");
  // A reply cut short while writing its tool calls is still "length".
  ChatReply cut = ToolReply();
  cut.generation.finish = FinishReason::kMaxTokens;
  CHECK(std::string(FinishReasonText(cut)) == "length");
}

TEST_CASE("SSE chunks for role and reasoning and content and tool calls and finish and usage and DONE") {
  const ChunkStream chunks({.id = "chatcmpl-abc", .created = 5, .model = "tiny"}, /*include_usage=*/true);
  const auto one = [](const std::string& sse) {
    const std::vector<std::string> events = Events(sse);
    REQUIRE(events.size() == 1);
    return Json::parse(events[0]);
  };
  const Json start = one(chunks.Start());
  CHECK(start["id"] == "chatcmpl-abc");
  CHECK(start["object"] == "chat.completion.chunk");
  CHECK(start["created"] == 5);
  CHECK(start["model"] == "tiny");
  CHECK(start["choices"][0]["delta"] == Json::parse(R"({"role": "assistant", "content": ""})"));
  CHECK(start["choices"][0]["finish_reason"].is_null());

  CHECK(one(chunks.Piece(ChatChannel::kReasoning, "think"))["choices"][0]["delta"] ==
        Json::parse(R"({"reasoning_content": "think"})"));
  CHECK(one(chunks.Piece(ChatChannel::kContent, "é\n\"x\""))["choices"][0]["delta"] ==
        Json::parse(R"({"content": "é\n\"x\""})"));
  CHECK(chunks.Piece(ChatChannel::kToolCall, "<｜DSML｜invoke").empty());  // sent whole at the end
  CHECK(chunks.Piece(ChatChannel::kContent, "").empty());

  ChatReply reply = ToolReply();
  AssignToolCallIds(reply.message, "chatcmpl-abc");
  const std::string finish = chunks.Finish(reply);
  const std::vector<std::string> events = Events(finish);
  REQUIRE(events.size() == 4);
  const Json calls = Json::parse(events[0])["choices"][0]["delta"]["tool_calls"];
  REQUIRE(calls.size() == 2);
  CHECK(calls[0] == Json::parse(R"({"index": 0, "id": "call_abc_0", "type": "function",
      "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}})"));
  CHECK(calls[1]["index"] == 1);
  CHECK(calls[1]["id"] == "call_abc_1");
  const Json last = Json::parse(events[1]);
  CHECK(last["choices"][0]["delta"] == Json::object());
  CHECK(last["choices"][0]["finish_reason"] == "tool_calls");
  const Json usage = Json::parse(events[2]);
  CHECK(usage["choices"] == Json::array());
  CHECK(usage["usage"]["total_tokens"] == 65);
  CHECK(events[3] == "[DONE]");

  // Without tool calls and usage: the finish chunk and [DONE] only.
  ChatReply plain;
  plain.generation.finish = FinishReason::kMaxTokens;
  const std::vector<std::string> short_events =
      Events(ChunkStream({.id = "chatcmpl-abc"}, false).Finish(plain));
  REQUIRE(short_events.size() == 2);
  CHECK(Json::parse(short_events[0])["choices"][0]["finish_reason"] == "length");
  CHECK(short_events[1] == "[DONE]");
}

TEST_CASE("text that is not UTF-8 is replaced in JSON output and never thrown on") {
  CHECK(JsonText(Json{{"content", std::string("a\xff")}}) == "{\"content\":\"a\xEF\xBF\xBD\"}");
  CHECK(SseEvent(Json{{"a", 1}}) == "data: {\"a\":1}\n\n");
}

TEST_CASE("the model list") {
  CHECK(ModelJson("m", 1) == Json::parse(R"({"id": "m", "object": "model", "created": 1, "owned_by": "deepseek"})"));
  const Json j = ModelsJson("tiny-flash", 7);
  CHECK(j == Json::parse(R"({"object": "list", "data": [{"id": "tiny-flash", "object": "model", "created": 7,
                                                         "owned_by": "deepseek"}]})"));
}

}  // namespace
}  // namespace deepseek::server

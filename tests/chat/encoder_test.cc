// The prompt encoder against the official and extra vectors, byte for byte, through both the
// JSON request API and the typed ChatMessage API; the chat modes; and rejected input.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chat_cases.h"
#include "deepseek/chat.h"

namespace deepseek {
namespace {

using Json = nlohmann::ordered_json;
using testing::EncodeCase;

std::string Str(const Json& obj, const char* key) {
  return obj.contains(key) && obj[key].is_string() ? obj[key].get<std::string>() : std::string();
}

// A test-vector message as a typed ChatMessage (tool schemas and formats re-serialised: key
// order survives, and the encoder re-writes them in Python's form anyway).
ChatMessage Typed(const Json& m) {
  ChatMessage out;
  out.role = Str(m, "role");
  out.content = Str(m, "content");
  out.reasoning_content = Str(m, "reasoning_content");
  out.tool_call_id = Str(m, "tool_call_id");
  out.task = Str(m, "task");
  out.wo_eos = m.value("wo_eos", false);
  if (m.contains("tool_calls")) {
    for (const Json& call : m["tool_calls"]) {
      out.tool_calls.push_back({Str(call, "id"), Str(call["function"], "name"), Str(call["function"], "arguments")});
    }
  }
  if (m.contains("tools")) out.tools_json = m["tools"].dump();
  if (m.contains("response_format")) out.response_format_json = m["response_format"].dump();
  return out;
}

std::vector<ChatMessage> TypedList(const Json& list) {
  std::vector<ChatMessage> out;
  for (const Json& m : list) out.push_back(Typed(m));
  return out;
}

Result<std::string> EncodeTyped(const EncodeCase& c) {
  const Json request = Json::parse(c.request);
  std::vector<ChatMessage> messages = TypedList(request["messages"]);
  if (request.contains("tools")) messages[0].tools_json = request["tools"].dump();
  const std::vector<ChatMessage> context =
      request.contains("context") ? TypedList(request["context"]) : std::vector<ChatMessage>{};
  ChatFormatOptions options;
  const bool thinking = request["thinking_mode"] == "thinking";
  const bool max = request.contains("reasoning_effort") && request["reasoning_effort"] == "max";
  options.mode = !thinking ? ChatMode::kFast : max ? ChatMode::kExpertMax : ChatMode::kExpert;
  options.drop_thinking = request.value("drop_thinking", true);
  options.add_bos = request.value("add_default_bos_token", true);
  return EncodeChat(messages, options, context);
}

// The position of the first differing byte, to make a failure readable.
std::string FirstDifference(const std::string& a, const std::string& b) {
  std::size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return "first difference at byte " + std::to_string(i) + ": got '" + a.substr(i, 40) + "' expected '" +
         b.substr(i, 40) + "'";
}

TEST_CASE("chat encoder: every official and extra vector through the JSON request API") {
  const std::vector<EncodeCase> cases = testing::EncodeCases();
  REQUIRE(cases.size() == 29);
  for (const EncodeCase& c : cases) {
    CAPTURE(c.name);
    Result<std::string> prompt = EncodeChatRequestJson(c.request);
    REQUIRE_MESSAGE(prompt.ok(), prompt.status().ToString());
    CHECK_MESSAGE(prompt.value() == c.expected, FirstDifference(prompt.value(), c.expected));
  }
}

TEST_CASE("chat encoder: the typed API gives the same prompts as the JSON API") {
  for (const EncodeCase& c : testing::EncodeCases()) {
    CAPTURE(c.name);
    Result<std::string> prompt = EncodeTyped(c);
    REQUIRE_MESSAGE(prompt.ok(), prompt.status().ToString());
    CHECK_MESSAGE(prompt.value() == c.expected, FirstDifference(prompt.value(), c.expected));
  }
}

TEST_CASE("chat encoder: each mode's generation prompt") {
  const std::vector<ChatMessage> messages = {{.role = "system", .content = "S"}, {.role = "user", .content = "Q"}};
  const std::string max_paragraph =
      "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n"
      "You MUST be very thorough in your thinking and comprehensively decompose the problem to resolve the root "
      "cause, rigorously stress-testing your logic against all potential paths, edge cases, and adversarial "
      "scenarios.\n"
      "Explicitly write out your entire deliberation process, documenting every intermediate step, considered "
      "alternative, and rejected hypothesis to ensure absolutely no assumption is left unchecked.\n\n";
  const std::string bos = "<｜begin▁of▁sentence｜>";

  Result<std::string> fast = EncodeChat(messages, {.mode = ChatMode::kFast});
  REQUIRE(fast.ok());
  CHECK(fast.value() == bos + "S<｜User｜>Q<｜Assistant｜></think>");
  Result<std::string> expert = EncodeChat(messages, {.mode = ChatMode::kExpert});
  REQUIRE(expert.ok());
  CHECK(expert.value() == bos + "S<｜User｜>Q<｜Assistant｜><think>");
  Result<std::string> max = EncodeChat(messages, {.mode = ChatMode::kExpertMax});
  REQUIRE(max.ok());
  CHECK(max.value() == bos + max_paragraph + "S<｜User｜>Q<｜Assistant｜><think>");

  // A multi-turn Expert conversation: the history turn renders like chat, the new one thinks.
  const std::vector<ChatMessage> turns = {{.role = "user", .content = "A"},
                                          {.role = "assistant", .content = "B", .reasoning_content = "r"},
                                          {.role = "user", .content = "C"}};
  Result<std::string> multi = EncodeChat(turns, {.mode = ChatMode::kExpert});
  REQUIRE(multi.ok());
  CHECK(multi.value() == bos + "<｜User｜>A<｜Assistant｜></think>B<｜end▁of▁sentence｜><｜User｜>C<｜Assistant｜><think>");
  Result<std::string> kept = EncodeChat(turns, {.mode = ChatMode::kExpert, .drop_thinking = false, .add_bos = false});
  REQUIRE(kept.ok());
  CHECK(kept.value() == "<｜User｜>A<｜Assistant｜><think>r</think>B<｜end▁of▁sentence｜><｜User｜>C<｜Assistant｜><think>");
}

TEST_CASE("chat mode names") {
  for (ChatMode mode : {ChatMode::kFast, ChatMode::kExpert, ChatMode::kExpertMax}) {
    Result<ChatMode> parsed = ParseChatMode(ChatModeName(mode));
    REQUIRE(parsed.ok());
    CHECK(parsed.value() == mode);
  }
  Result<ChatMode> bad = ParseChatMode("turbo");
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message().find("expert-max") != std::string::npos);
}

TEST_CASE("chat encoder: tool results follow the call order, text blocks keep their slots") {
  ChatMessage assistant{.role = "assistant"};
  assistant.tool_calls = {{"a", "f", "{}"}, {"b", "f", "{}"}, {"c", "f", "{}"}};
  const std::vector<ChatMessage> messages = {
      {.role = "user", .content = "go"},
      assistant,
      {.role = "tool", .content = "C", .tool_call_id = "c"},
      {.role = "tool", .content = "X", .tool_call_id = "unknown"},  // unknown ids sort first
      {.role = "tool", .content = "A", .tool_call_id = "a"},
  };
  Result<std::string> prompt = EncodeChat(messages, {.mode = ChatMode::kFast, .add_bos = false});
  REQUIRE_MESSAGE(prompt.ok(), prompt.status().ToString());
  CHECK(prompt.value().ends_with(
      "<｜User｜><tool_result>X</tool_result>\n\n<tool_result>A</tool_result>\n\n<tool_result>C</tool_result>"
      "<｜Assistant｜></think>"));
  // A tool message with nothing to join starts its own user turn, as in the reference.
  Result<std::string> lone =
      EncodeChat(std::vector<ChatMessage>{{.role = "tool", .content = "R"}}, {.mode = ChatMode::kFast});
  REQUIRE(lone.ok());
  CHECK(lone.value() == "<｜begin▁of▁sentence｜><｜User｜><tool_result>R</tool_result><｜Assistant｜></think>");
}

TEST_CASE("chat encoder: JSON request details") {
  // Tool results given as content parts; non-text parts are marked unsupported.
  const std::string parts = R"({"thinking_mode": "chat", "messages": [
      {"role": "tool", "content": [{"type": "text", "text": "one"}, {"type": "image_url"}, {"text": "t"}]}]})";
  Result<std::string> prompt = EncodeChatRequestJson(parts);
  REQUIRE_MESSAGE(prompt.ok(), prompt.status().ToString());
  CHECK(prompt.value() ==
        "<｜begin▁of▁sentence｜><｜User｜><tool_result>one\n\n[Unsupported image_url]\n\n[Unsupported None]"
        "</tool_result><｜Assistant｜></think>");
  // Tool-call values: floats as Python writes them, big integers exact, key order kept.
  const std::string values = R"({"thinking_mode": "chat", "messages": [{"role": "assistant", "tool_calls": [
      {"function": {"name": "f", "arguments": "{\"z\": 1E-5, \"a\": 12345678901234567890123, \"m\": [3.0, -0.0, \"\\u00e9\"]}"}}]}]})";
  prompt = EncodeChatRequestJson(values);
  REQUIRE_MESSAGE(prompt.ok(), prompt.status().ToString());
  CHECK(prompt.value() ==
        "<｜begin▁of▁sentence｜>\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n"
        "<｜DSML｜parameter name=\"z\" string=\"false\">1e-05</｜DSML｜parameter>\n"
        "<｜DSML｜parameter name=\"a\" string=\"false\">12345678901234567890123</｜DSML｜parameter>\n"
        "<｜DSML｜parameter name=\"m\" string=\"false\">[3.0, -0.0, \"é\"]</｜DSML｜parameter>\n"
        "</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>");
  // An invoke without parameters, and a response format that Python would treat as false.
  const std::string empty = R"({"thinking_mode": "chat", "messages": [
      {"role": "system", "content": "s", "response_format": {}},
      {"role": "assistant", "content": "c", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}]})";
  prompt = EncodeChatRequestJson(empty);
  REQUIRE_MESSAGE(prompt.ok(), prompt.status().ToString());
  CHECK(prompt.value() == "<｜begin▁of▁sentence｜>sc\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n\n"
                          "</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>");
}

void ExpectRejected(const std::string& request, const std::string& fragment) {
  CAPTURE(request);
  Result<std::string> prompt = EncodeChatRequestJson(request);
  REQUIRE_FALSE(prompt.ok());
  CHECK(prompt.status().code() == StatusCode::kInvalidArgument);
  CHECK_MESSAGE(prompt.status().message().find(fragment) != std::string::npos, prompt.status().message());
}

TEST_CASE("chat encoder: bad JSON requests are kInvalidArgument naming the field") {
  const std::string head = R"({"thinking_mode": "chat", "messages": )";
  ExpectRejected("not json", "invalid JSON");
  ExpectRejected("[]", "request: expected a JSON object");
  ExpectRejected(R"({"messages": []})", "thinking_mode");
  ExpectRejected(R"({"thinking_mode": "fast", "messages": []})", "thinking_mode");
  ExpectRejected(R"({"thinking_mode": "chat", "messages": [], "reasoning_effort": "low"})", "reasoning_effort");
  ExpectRejected(R"({"thinking_mode": "chat", "messages": [], "drop_thinkng": false})", "unknown field 'drop_thinkng'");
  ExpectRejected(R"({"thinking_mode": "chat", "messages": [], "drop_thinking": "no"})", "drop_thinking");
  ExpectRejected(head + "{}}", "messages: expected a list");
  ExpectRejected(head + "[{\"role\": \"robot\", \"content\": \"x\"}]}", "messages[0].role: unknown role 'robot'");
  ExpectRejected(head + "[{\"content\": \"x\"}]}", "messages[0].role");
  ExpectRejected(head + "[{\"role\": \"user\", \"content\": 5}]}", "messages[0].content: expected a string");
  ExpectRejected(head + "[{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"x\"}]}]}",
                 "messages[0].content: expected a string");
  ExpectRejected(head + "[{\"role\": \"user\", \"content\": \"x\", \"task\": \"fly\"}]}",
                 "messages[0].task: unknown task");
  ExpectRejected(head + "[{\"role\": \"developer\", \"content\": \"\"}]}", "messages[0]: a developer message needs");
  ExpectRejected(head + "[{\"role\": \"system\", \"tools\": {\"a\": 1}}]}", "messages[0].tools: expected a list");
  ExpectRejected(head + "[{\"role\": \"system\", \"tools\": [{\"type\": \"function\"}]}]}", "messages[0].tools[0]");
  ExpectRejected(head + "[{\"role\": \"assistant\", \"tool_calls\": {}}]}", "messages[0].tool_calls");
  ExpectRejected(head + "[{\"role\": \"assistant\", \"tool_calls\": [{\"function\": {\"name\": \"f\"}}]}]}",
                 "messages[0].tool_calls[0].function.arguments");
  ExpectRejected(head + "[{\"role\": \"assistant\", \"wo_eos\": 1}]}", "messages[0].wo_eos");
  ExpectRejected(
      head +
          "[{\"role\": \"assistant\", \"tool_calls\": [{\"function\": {\"name\": \"f\", \"arguments\": \"[1]\"}}]}]}",
      "messages[0].tool_calls[0].arguments: the arguments are JSON but not an object");
  ExpectRejected(R"({"thinking_mode": "chat", "tools": [], "messages": []})", "request.tools");
  ExpectRejected("{\"thinking_mode\": \"chat\", \"messages\": [{\"role\": \"user\", \"content\": \"\xC3\x28\"}]}",
                 "invalid JSON");
  ExpectRejected("{\"thinking_mode\": \"chat\", \"messages\": [{\"role\": \"user\", \"content\": \"\\ud800\"}]}",
                 "invalid JSON");
  // Deep nesting is refused before it can exhaust the stack, in the request and in arguments.
  ExpectRejected(head + std::string(100000, '[') + std::string(100000, ']') + "}", "nested deeper");
  const std::string deep_args = std::string(1000, '[') + std::string(1000, ']');
  ExpectRejected(head +
                     "[{\"role\": \"assistant\", \"tool_calls\": [{\"function\": {\"name\": \"f\", \"arguments\": \"" +
                     deep_args + "\"}}]}]}",
                 "messages[0].tool_calls[0].arguments: JSON nested deeper");
}

TEST_CASE("chat encoder: bad typed messages are kInvalidArgument naming the message") {
  const auto rejected = [](std::vector<ChatMessage> messages, const std::string& fragment) {
    Result<std::string> prompt = EncodeChat(messages, {});
    REQUIRE_FALSE(prompt.ok());
    CHECK(prompt.status().code() == StatusCode::kInvalidArgument);
    CHECK_MESSAGE(prompt.status().message().find(fragment) != std::string::npos, prompt.status().message());
  };
  rejected({{.role = "user", .content = "ok"}, {.role = "bot", .content = "x"}},
           "messages[1].role: unknown role 'bot'");
  rejected({{.role = "user", .content = "bad \xFF byte"}}, "messages[0].content: not valid UTF-8 (byte 4)");
  rejected({{.role = "user", .content = "\xE4\xB8"}}, "messages[0].content: not valid UTF-8");
  rejected({{.role = "system", .tools_json = "[{"}}, "messages[0].tools_json: invalid JSON");
  rejected({{.role = "system", .tools_json = "{}"}}, "messages[0].tools_json: expected a list");
  rejected({{.role = "system", .response_format_json = "{'a': 1}"}}, "messages[0].response_format_json: invalid JSON");
  rejected({{.role = "user", .content = "x", .task = "fly"}}, "messages[0].task");
  rejected({{.role = "developer"}}, "messages[0]: a developer message needs non-empty content");
  ChatMessage call{.role = "assistant"};
  call.tool_calls = {{"id", "f", "\"just a string\""}};
  rejected({call}, "messages[0].tool_calls[0].arguments");
  // Context messages are checked too, and named as such.
  Result<std::string> prompt = EncodeChat(std::vector<ChatMessage>{{.role = "user", .content = "q"}}, {},
                                          std::vector<ChatMessage>{{.role = "nobody"}});
  REQUIRE_FALSE(prompt.ok());
  CHECK(prompt.status().message().find("context[0].role") != std::string::npos);
}

TEST_CASE("chat encoder: arguments that are not JSON become one string parameter") {
  ChatMessage call{.role = "assistant"};
  call.tool_calls = {{"id", "run", "print('<x>')\n"}};
  Result<std::string> prompt = EncodeChat(std::vector<ChatMessage>{call}, {.mode = ChatMode::kFast, .add_bos = false});
  REQUIRE(prompt.ok());
  CHECK(prompt.value() == "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"run\">\n"
                          "<｜DSML｜parameter name=\"arguments\" string=\"true\">print('<x>')\n</｜DSML｜parameter>\n"
                          "</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>");
}

}  // namespace
}  // namespace deepseek

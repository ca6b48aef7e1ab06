// The completion parser against the extra parse vectors, encoder → parser round trips, the
// reference's edge behaviour, and malformed completions.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chat_cases.h"
#include "deepseek/chat.h"

namespace deepseek {
namespace {

using Json = nlohmann::ordered_json;

const std::string kEos = "<｜end▁of▁sentence｜>";

TEST_CASE("chat completion parser: the extra parse vectors, accepted and rejected") {
  const std::vector<testing::ParseCase> cases = testing::ParseCases();
  REQUIRE(cases.size() == 6);
  for (const testing::ParseCase& c : cases) {
    CAPTURE(c.name);
    const Json input = Json::parse(c.input);
    const Json expected = Json::parse(c.expected);
    Result<ChatMessage> parsed =
        ParseCompletion(input["completion"].get<std::string>(), input["thinking_mode"] == "thinking");
    REQUIRE(parsed.ok() == expected["ok"].get<bool>());
    if (parsed.ok()) {
      // Ordered comparison: key order and every value as the reference returns them.
      CHECK(Json::parse(ChatMessageToJson(parsed.value())) == expected["result"]);
    } else {
      CHECK(parsed.status().code() == StatusCode::kInvalidArgument);
    }
  }
}

TEST_CASE("chat completion parser: ChatMessageToJson writes Python's json.dumps form") {
  ChatMessage m{.role = "assistant", .content = "\"é\"\n", .reasoning_content = "r"};
  m.tool_calls = {{"", "f", "{\"a\": 1}"}};
  CHECK(
      ChatMessageToJson(m) ==
      R"({"role": "assistant", "content": "\"é\"\n", "reasoning_content": "r", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}}]})");
}

// The assistant turn the encoder writes for `reply`, cut to what the model would generate.
std::string Generated(const ChatMessage& reply, bool thinking) {
  const std::vector<ChatMessage> messages = {{.role = "user", .content = "q"}, reply};
  Result<std::string> prompt =
      EncodeChat(messages, {.mode = thinking ? ChatMode::kExpert : ChatMode::kFast, .drop_thinking = false});
  REQUIRE(prompt.ok());
  const std::string opener = thinking ? "<｜Assistant｜><think>" : "<｜Assistant｜></think>";
  const std::size_t at = prompt.value().find(opener);
  REQUIRE(at != std::string::npos);
  return prompt.value().substr(at + opener.size());
}

TEST_CASE("chat completion parser: what the encoder writes parses back") {
  ChatMessage reply{.role = "assistant", .content = "Let me look.\n", .reasoning_content = "Plan: <tool> 中文"};
  reply.tool_calls = {
      {"c1", "get_weather", R"({"city": "北京", "days": 3, "opts": {"units": ["°C"], "x": null, "r": 0.5}})"},
      {"c2", "run", R"({"code": "print(\"hi\")\n<b>a</b>\n"})"},
      {"c3", "noop", "{}"},
  };
  for (bool thinking : {true, false}) {
    CAPTURE(thinking);
    const std::string completion = Generated(reply, thinking);
    Result<ChatMessage> parsed = ParseCompletion(completion, thinking);
    REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
    CHECK(parsed.value().role == "assistant");
    CHECK(parsed.value().reasoning_content == (thinking ? reply.reasoning_content : ""));
    CHECK(parsed.value().content == reply.content);
    REQUIRE(parsed.value().tool_calls.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(parsed.value().tool_calls[i].name == reply.tool_calls[i].name);
      CHECK(parsed.value().tool_calls[i].arguments == reply.tool_calls[i].arguments);
      CHECK(parsed.value().tool_calls[i].id.empty());
    }
  }
}

Result<ChatMessage> Chat(const std::string& completion) { return ParseCompletion(completion, false); }

TEST_CASE("chat completion parser: the reference's edge behaviour") {
  const std::string open = "x\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke";
  // Whitespace (Python's \s, Unicode included) before name=; a parameter body may end in "<\n".
  Result<ChatMessage> m =
      Chat(open +
           " \t\u3000name=\"f\">\n<｜DSML｜parameter name=\"a\" string=\"true\">v<\n/｜DSML｜parameter>\n"
           "</｜DSML｜invoke>\n</｜DSML｜tool_calls>" +
           kEos);
  REQUIRE_MESSAGE(m.ok(), m.status().ToString());
  CHECK(m.value().tool_calls[0].name == "f");
  CHECK(m.value().tool_calls[0].arguments == R"({"a": "v"})");
  // The name runs to the first `" string="…">` that fits; the value to the final "<".
  m = Chat(open + " name=\"f\">\n<｜DSML｜parameter name=\"a\" b\" string=\"false\">[\"<\", 1]</｜DSML｜parameter>\n"
           "</｜DSML｜invoke>\n</｜DSML｜tool_calls>" + kEos);
  REQUIRE_MESSAGE(m.ok(), m.status().ToString());
  CHECK(m.value().tool_calls[0].arguments == R"({"a\" b": ["<", 1]})");
  // The reference accepts tool calls cut off after a whole invoke or after the closing tag.
  m = Chat(open + " name=\"f\">\n\n</｜DSML｜invoke");
  REQUIRE_MESSAGE(m.ok(), m.status().ToString());
  CHECK(m.value().tool_calls.size() == 1);
  m = Chat(open + " name=\"f\">\n\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>");
  REQUIRE(m.ok());
  CHECK(m.value().content == "x");
  // Special-token texts are fine inside parameter values.
  m = Chat(
      open + " name=\"f\">\n<｜DSML｜parameter name=\"a\" string=\"true\"></think>" + kEos +
      "<｜DSML｜parameter name=\"b\" string=\"true\">z</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>" +
      kEos);
  REQUIRE_MESSAGE(m.ok(), m.status().ToString());
  CHECK(m.value().tool_calls[0].arguments ==
        "{\"a\": \"</think>" + kEos + "<｜DSML｜parameter name=\\\"b\\\" string=\\\"true\\\">z\"}");
  // Empty reasoning and empty content.
  m = ParseCompletion("</think>" + kEos, true);
  REQUIRE(m.ok());
  CHECK(m.value().content.empty());
}

void ExpectMalformed(const std::string& completion, bool thinking, const std::string& fragment) {
  CAPTURE(completion);
  Result<ChatMessage> m = ParseCompletion(completion, thinking);
  REQUIRE_FALSE(m.ok());
  CHECK(m.status().code() == StatusCode::kInvalidArgument);
  CHECK_MESSAGE(m.status().message().find(fragment) != std::string::npos, m.status().message());
}

TEST_CASE("chat completion parser: malformed completions are kInvalidArgument saying what") {
  const std::string open = "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n";
  const std::string close = "</｜DSML｜invoke>\n</｜DSML｜tool_calls>" + kEos;
  ExpectMalformed("no end", false, "truncated");
  // Unlike the reference, which would copy it into arguments that are then not JSON.
  ExpectMalformed(open + "<｜DSML｜parameter name=\"n\" string=\"false\">not json</｜DSML｜parameter>\n" + close, false,
                  "parameter \"n\" of \"f\" is marked string=\"false\" but its value is not JSON");
  ExpectMalformed("reasoning only" + kEos, true, "no </think>");
  ExpectMalformed("r" + open + close, true, "tool calls before </think>");
  ExpectMalformed("a" + kEos + "b", false, "text after <｜end▁of▁sentence｜>");
  ExpectMalformed("a" + kEos + kEos, false, "text after");
  ExpectMalformed("</think>a" + kEos, false, "content contains the special token </think>");
  ExpectMalformed("a<think>b</think>c" + kEos, true, "reasoning contains the special token <think>");
  ExpectMalformed("<｜begin▁of▁sentence｜>" + kEos, false, "special token");
  ExpectMalformed("a｜DSML｜b" + kEos, false, "special token ｜DSML｜");
  ExpectMalformed("a" + open + "<｜DSML｜parameter name=\"k\" string=\"true\">1</｜DSML｜parameter>\n"
                      "<｜DSML｜parameter name=\"k\" string=\"true\">2</｜DSML｜parameter>\n" + close,
                  false, "duplicate parameter \"k\"");
  ExpectMalformed("a" + open + "<｜DSML｜parameter name=\"k\" string=\"yes\">1</｜DSML｜parameter>\n" + close, false,
                  "in a tool parameter");
  ExpectMalformed("a" + open + "<｜DSML｜parameter name=\"k\" string=\"true\">1</｜DSML｜parameter>" + close, false,
                  "expected \">\\n\" before <｜DSML｜parameter or </｜DSML｜invoke");
  ExpectMalformed("a\n\n<｜DSML｜tool_calls><｜DSML｜invoke name=\"f\">\n" + close, false, "expected \">\\n\"");
  ExpectMalformed("a\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke nam=\"f\">\n" + close, false, "in a tool invoke");
  ExpectMalformed("a\n\n<｜DSML｜tool_calls>\n", false, "without </｜DSML｜tool_calls>");
  ExpectMalformed("a" + open + close + "tail", false, "text after");
  ExpectMalformed("a" + open + "</｜DSML｜invoke>\n</｜DSML｜tool_calls>junk" + kEos, false, "text after the tool calls");
  ExpectMalformed("bad \xC0\xAF utf8" + kEos, false, "not valid UTF-8 (byte 4)");
}

}  // namespace
}  // namespace deepseek

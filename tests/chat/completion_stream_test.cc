// The streaming splitter: whatever the split of the completion into pushed pieces, the channel
// texts are exactly the strict parse's reasoning and content, the tool-call channel is the DSML
// block, and no piece holds a marker or a cut character.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/utf8.h"
#include "chat_cases.h"
#include "deepseek/chat.h"

namespace deepseek {
namespace {

const std::string kEos = "<｜end▁of▁sentence｜>";
const std::string kThinkEnd = "</think>";
const std::string kToolCallsStart = "\n\n<｜DSML｜tool_calls";

struct Streamed {
  std::string channel[3];
  bool ended = false;
};

// Pushes `completion` cut at `cuts` (ascending byte offsets) and collects the channels,
// checking every piece on the way.
Streamed Stream(const std::string& completion, bool thinking, const std::vector<std::size_t>& cuts) {
  CompletionStream stream(thinking);
  Streamed out;
  const bool valid_utf8 = FirstInvalidUtf8(completion) == completion.size();
  std::size_t from = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t to = i < cuts.size() ? cuts[i] : completion.size();
    for (const CompletionStream::Piece& p : stream.Push(std::string_view(completion).substr(from, to - from))) {
      CHECK_FALSE(p.text.empty());
      CHECK(p.text.find(kEos) == std::string::npos);
      if (p.channel != ChatChannel::kToolCall) {
        CHECK(p.text.find(kThinkEnd) == std::string::npos);
        CHECK(p.text.find(kToolCallsStart) == std::string::npos);
      }
      if (valid_utf8) CHECK(FirstInvalidUtf8(p.text) == p.text.size());  // whole characters only
      out.channel[static_cast<int>(p.channel)] += p.text;
    }
    from = to;
  }
  out.ended = stream.ended();
  return out;
}

// Checks a completion that parses: every two-piece split and the byte-by-byte stream agree with
// the strict parse.
void CheckStreams(const std::string& completion, bool thinking) {
  CAPTURE(completion);
  CAPTURE(thinking);
  Result<ChatMessage> parsed = ParseCompletion(completion, thinking);
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
  // The tool-call channel carries the DSML block: from its opening tag up to the EOS.
  std::string block;
  if (!parsed.value().tool_calls.empty()) {
    // Neither the reasoning nor the content can hold the opener, so its first occurrence is it.
    const std::size_t start = completion.find(kToolCallsStart) + 2;
    block = completion.substr(start, completion.find(kEos, start) - start);
  }
  std::vector<std::vector<std::size_t>> splits;
  for (std::size_t cut = 0; cut <= completion.size(); ++cut) splits.push_back({cut});
  std::vector<std::size_t> bytes;
  for (std::size_t cut = 1; cut < completion.size(); ++cut) bytes.push_back(cut);
  splits.push_back(bytes);
  for (const std::vector<std::size_t>& cuts : splits) {
    const Streamed s = Stream(completion, thinking, cuts);
    REQUIRE(s.channel[0] == parsed.value().reasoning_content);
    REQUIRE(s.channel[1] == parsed.value().content);
    REQUIRE(s.channel[2] == block);
    REQUIRE(s.ended == completion.ends_with(kEos));
  }
}

TEST_CASE("chat completion stream: every split of every accepted parse vector") {
  for (const testing::ParseCase& c : testing::ParseCases()) {
    const nlohmann::json input = nlohmann::json::parse(c.input);
    const std::string completion = input["completion"];
    const bool thinking = input["thinking_mode"] == "thinking";
    if (!ParseCompletion(completion, thinking).ok()) continue;
    CAPTURE(c.name);
    CheckStreams(completion, thinking);
  }
}

TEST_CASE("chat completion stream: completions full of near-markers") {
  const std::string call =
      "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n"
      "<｜DSML｜parameter name=\"a\" string=\"true\">x</think>\n\n<｜DSML｜tool_calls <｜end▁of▁sent</｜DSML｜parameter>\n"
      "</｜DSML｜invoke>\n</｜DSML｜tool_calls>";
  const std::vector<std::string> reasonings = {"", "plain", "a </thin b <｜end▁of▁sent c", "\n\n<｜DSM\n\n<", "中文 <\n\n"};
  const std::vector<std::string> contents = {"", "answer", "</thin", "x\n\n<｜DSML", "<｜end▁of▁sentence", "é\n\n"};
  for (const std::string& r : reasonings) {
    for (const std::string& c : contents) {
      CheckStreams(r + kThinkEnd + c + kEos, true);
      CheckStreams(r + kThinkEnd + c + call + kEos, true);
    }
  }
  for (const std::string& c : contents) {
    CheckStreams(c + kEos, false);
    CheckStreams(c + call + kEos, false);
    CheckStreams(c + call, false);  // accepted without EOS, like the reference
  }
}

TEST_CASE("chat completion stream: random completions that parse agree with the parser") {
  const std::vector<std::string> fragments = {"a", "中", "é", " ", "<", ">", "/", "\n", "\n\n", "</", "</think",
                                              "<think", "<｜", "<｜end▁of", "｜DSM", "\n\n<｜DSML", "\n\n<"};
  const std::vector<std::string> markers = {"</think>", kEos, "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n\n"
                                            "</｜DSML｜invoke>\n</｜DSML｜tool_calls>"};
  std::mt19937 rng(1234);
  const auto text = [&](std::size_t max_fragments) {
    std::string out;
    for (std::size_t n = rng() % (max_fragments + 1); n > 0; --n) out += fragments[rng() % fragments.size()];
    return out;
  };
  int accepted = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    // Mostly the shape of a reply, with markers sometimes missing, doubled or out of place.
    const bool thinking = rng() % 2;
    std::string completion = thinking ? text(4) + markers[0] : "";
    completion += text(4);
    if (rng() % 3 == 0) completion += markers[2];
    if (rng() % 8 != 0) completion += kEos;
    if (rng() % 8 == 0) completion.insert(rng() % (completion.size() + 1), markers[rng() % markers.size()]);
    if (ParseCompletion(completion, thinking).ok()) {
      ++accepted;
      CheckStreams(completion, thinking);
    } else {
      // Rejected text still streams without trouble.
      std::vector<std::size_t> cuts;
      for (std::size_t cut = 1; cut < completion.size(); ++cut) cuts.push_back(cut);
      Stream(completion, thinking, cuts);
    }
  }
  MESSAGE(accepted << " of 3000 random completions parsed");
  CHECK(accepted > 1000);
}

TEST_CASE("chat completion stream: after the EOS nothing more is taken") {
  CompletionStream stream(false);
  std::vector<CompletionStream::Piece> pieces = stream.Push("hi<｜end▁of▁sen");
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0].text == "hi");
  CHECK_FALSE(stream.ended());
  CHECK(stream.Push("tence｜>and more").empty());
  CHECK(stream.ended());
  CHECK(stream.Push("<｜User｜>ignored").empty());
  CHECK(stream.text() == "hi" + kEos);
  Result<ChatMessage> message = stream.Finish();
  REQUIRE(message.ok());
  CHECK(message.value().content == "hi");
}

TEST_CASE("chat completion stream: held-back text is released as soon as it cannot be a marker") {
  CompletionStream stream(true);
  CHECK(stream.Push("think </th").size() == 1);  // "think " now, "</th" held
  std::vector<CompletionStream::Piece> pieces = stream.Push("e end");
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0].channel == ChatChannel::kReasoning);
  CHECK(pieces[0].text == "</the end");
  pieces = stream.Push("</think>\n\n");
  CHECK(pieces.empty());  // "\n\n" could still open the tool calls
  pieces = stream.Push("ok");
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0].channel == ChatChannel::kContent);
  CHECK(pieces[0].text == "\n\nok");
  pieces = stream.Push("\xE4\xB8");  // a cut character waits for its last byte
  CHECK(pieces.empty());
  pieces = stream.Push("\xAD");
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0].text == "中");
  CHECK_FALSE(stream.Finish().ok());  // no EOS yet
}

TEST_CASE("chat completion stream: Flush releases held-back text when the stream stops early") {
  CompletionStream stream(false);
  CHECK(stream.Push("answer\n\n<｜DS").size() == 1);  // "answer" now; the rest may open tool calls
  std::vector<CompletionStream::Piece> pieces = stream.Flush();
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0].channel == ChatChannel::kContent);
  CHECK(pieces[0].text == "\n\n<｜DS");
  CHECK(stream.Flush().empty());

  CompletionStream ended(false);
  ended.Push("done" + kEos);
  CHECK(ended.Flush().empty());
}

}  // namespace
}  // namespace deepseek

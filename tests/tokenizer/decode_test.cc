// Decoding, the streaming decoder and the UTF-8 checks at the API boundary.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "support/shared_data.h"
#include "tokenizer/shared_tokenizers.h"

namespace deepseek {
namespace {

using testing::SharedTokenizer;

TEST_CASE("encode: invalid UTF-8 is kInvalidArgument naming the byte offset") {
  const auto tok = SharedTokenizer("deepseek-v3");
  const std::pair<std::string, size_t> cases[] = {
      {"ab\xFF" "cd", 2},       {"x\xE4\xB8", 1},            {"\xED\xA0\x80", 0},  // truncated, surrogate
      {"ok \xC0\x80", 3},       {"\xF4\x90\x80\x80", 0},     {"é\x80", 2},         // overlong, > U+10FFFF, stray
  };
  for (const auto& [text, offset] : cases) {
    CAPTURE(text);
    auto ids = tok->Encode(text);
    REQUIRE_FALSE(ids.ok());
    CHECK(ids.status().code() == StatusCode::kInvalidArgument);
    CHECK(ids.status().message().find("byte offset " + std::to_string(offset)) != std::string::npos);
  }
}

TEST_CASE("decode: ids out of range are kInvalidArgument and cut characters become U+FFFD") {
  const auto tok = SharedTokenizer("deepseek-v3");
  for (const int32_t bad : {-1, static_cast<int32_t>(tok->vocab_size()), 128799 + 100}) {
    CAPTURE(bad);
    const std::vector<int32_t> ids = {3, bad};
    auto text = tok->Decode(ids);
    REQUIRE_FALSE(text.ok());
    CHECK(text.status().code() == StatusCode::kInvalidArgument);
    CHECK(text.status().message().find("ids[1]") != std::string::npos);
  }
  auto emoji = tok->Encode("🚀");
  REQUIRE(emoji.ok());
  REQUIRE(emoji.value().size() >= 2);
  const std::vector<int32_t> head = {emoji.value()[0]};
  CHECK(tok->Decode(head).value() == "\uFFFD");
}

TEST_CASE("decode: skip_special_tokens follows each added token's special flag") {
  const auto tok = SharedTokenizer("deepseek-v3");
  const int32_t bos = 0, user = *tok->TokenId("<｜User｜>"), eos = 1;
  CHECK(tok->IsSpecial(bos));
  CHECK_FALSE(tok->IsSpecial(user));  // V3 marks the chat-role tokens special: false
  CHECK(tok->IsAdded(user));
  CHECK_FALSE(tok->IsAdded(67));
  const std::vector<int32_t> ids = {bos, user, 67, eos};
  CHECK(tok->Decode(ids).value() == "<｜begin▁of▁sentence｜><｜User｜>a<｜end▁of▁sentence｜>");
  CHECK(tok->Decode(ids, true).value() == "<｜User｜>a");
  CHECK(tok->TokenBytes(223) == " ");
  CHECK(tok->TokenBytes(-5).empty());
}

TEST_CASE("stream: a character split across tokens is held back until complete") {
  const auto tok = SharedTokenizer("deepseek-v3");
  auto ids = tok->Encode("a🚀b");
  REQUIRE(ids.ok());
  TokenStreamDecoder stream(tok);
  std::vector<std::string> outputs;
  for (const int32_t id : ids.value()) {
    auto piece = stream.Push(id);
    REQUIRE(piece.ok());
    outputs.push_back(piece.value());
  }
  REQUIRE(outputs.size() >= 4);  // the rocket spans several tokens
  std::string joined;
  for (const std::string& o : outputs) {
    // Every emitted piece is whole characters.
    CHECK(tok->Encode(o).ok());
    joined += o;
  }
  CHECK(joined == "a🚀b");
  CHECK(stream.Finish().empty());

  // An incomplete tail: held, then U+FFFD at Finish.
  auto rocket = tok->Encode("🚀");
  REQUIRE(rocket.ok());
  CHECK(stream.Push(rocket.value()[0]).value().empty());
  CHECK(stream.Finish() == "\uFFFD");
  CHECK(stream.Finish().empty());
  // Reset drops a held tail.
  CHECK(stream.Push(rocket.value()[0]).value().empty());
  stream.Reset();
  CHECK(stream.Finish().empty());
  // A sequence that can never complete is replaced at once.
  CHECK(stream.Push(rocket.value()[0]).value().empty());
  CHECK(stream.Push(67).value() == "\uFFFDa");

  auto bad = stream.Push(-1);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("stream: pushing every golden encoding token by token gives the text") {
  const auto tok = SharedTokenizer("deepseek-v4");
  std::istringstream lines(testing::ReadFile(testing::SharedDir() + "/tokenizer/golden/deepseek-v4.jsonl"));
  int checked = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto g = nlohmann::json::parse(line);
    CAPTURE(g.at("id").get<std::string>());
    TokenStreamDecoder stream(tok);
    std::string text;
    for (const int32_t id : g.at("ids").get<std::vector<int32_t>>()) text += stream.Push(id).value();
    text += stream.Finish();
    CHECK(text == g.at("text").get<std::string>());
    ++checked;
  }
  CHECK(checked == 360);
}

}  // namespace
}  // namespace deepseek

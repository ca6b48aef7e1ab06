// Loading tokenizer.json: the tinygen tokenizer, the two spellings of merges, added-token ids,
// and malformed or unsupported files (each error names the file and the field).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "deepseek/tokenizer.h"
#include "support/shared_data.h"
#include "tinygen/tokenizer_builder.h"

namespace deepseek {
namespace {

using Json = nlohmann::ordered_json;

constexpr int64_t kTinyVocab = 512;

Json TinyJson() { return Json::parse(tinygen::BuildTokenizerJson(kTinyVocab)); }

std::shared_ptr<const Tokenizer> MustLoad(const std::string& json) {
  auto tok = Tokenizer::FromJson(json, "tiny.json");
  REQUIRE_MESSAGE(tok.ok(), tok.status().ToString());
  return tok.value();
}

// Loading `json` fails with `code` and a message naming the file and containing `field`.
void ExpectError(const std::string& json, StatusCode code, const std::string& field) {
  auto tok = Tokenizer::FromJson(json, "bad.json");
  REQUIRE_FALSE(tok.ok());
  CAPTURE(tok.status().ToString());
  CHECK(tok.status().code() == code);
  CHECK(tok.status().message().rfind("bad.json: ", 0) == 0);
  CHECK(tok.status().message().find(field) != std::string::npos);
}

TEST_CASE("load: the tinygen tokenizer loads and round-trips") {
  const auto tok = MustLoad(tinygen::BuildTokenizerJson(kTinyVocab));
  CHECK(tok->vocab_size() == kTinyVocab);
  const std::optional<int32_t> user = tok->TokenId("<｜User｜>");
  REQUIRE(user.has_value());
  CHECK(tok->IsAdded(*user));
  CHECK_FALSE(tok->IsSpecial(*user));
  CHECK(tok->IsSpecial(0));
  REQUIRE(tok->TokenId("</think>").has_value());
  const std::string text = "<｜User｜>The river runs past the old mill, 1887 times!\n\n毕老师 🚀<think>x</think>";
  auto ids = tok->Encode(text);
  REQUIRE(ids.ok());
  CHECK(ids.value().front() == *user);
  CHECK(ids.value().size() < text.size() / 2);  // the learned merges apply
  CHECK(tok->Decode(ids.value()).value() == text);
  CHECK(tok->Decode(ids.value(), true).value() == "<｜User｜>The river runs past the old mill, 1887 times!\n\n毕老师 🚀x");
  // The smallest tinygen tokenizer, with no merges at all.
  const auto bare = MustLoad(tinygen::BuildTokenizerJson(tinygen::kMinTokenizerVocab));
  CHECK(bare->Decode(bare->Encode(text).value()).value() == text);
}

TEST_CASE("load: from a file or a folder holding tokenizer.json, and a missing one is kNotFound") {
  const std::string dir = testing::TempDir("tokenizer");
  testing::WriteFile(dir + "/tokenizer.json", tinygen::BuildTokenizerJson(kTinyVocab));
  CHECK(Tokenizer::Load(dir).ok());
  CHECK(Tokenizer::Load(dir + "/tokenizer.json").ok());
  auto missing = Tokenizer::Load(dir + "/nothing.json");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK(missing.status().message().find("nothing.json") != std::string::npos);
}

TEST_CASE("load: merges as \"a b\" strings and as [a, b] arrays give the same tokenizer") {
  Json doc = TinyJson();
  Json arrays = Json::array();
  for (const auto& m : doc["model"]["merges"]) {
    const std::string s = m.get<std::string>();
    arrays.push_back({s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1)});
  }
  doc["model"]["merges"] = arrays;
  const auto a = MustLoad(tinygen::BuildTokenizerJson(kTinyVocab));
  const auto b = MustLoad(doc.dump());
  const std::string text = "In the morning the water is cold and clear, and the fishermen walk down.";
  CHECK(a->Encode(text).value() == b->Encode(text).value());
}

TEST_CASE("load: added-token ids come from the id field, in any order and with gaps") {
  Json doc = TinyJson();
  Json& added = doc["added_tokens"];
  added.push_back({{"id", 700}, {"content", "<late>"}, {"special", true}});
  added.push_back({{"id", 600}, {"content", "<early>"}, {"special", false}});
  const auto tok = MustLoad(doc.dump());
  CHECK(tok->vocab_size() == 701);
  CHECK(tok->Encode("a<early><late>").value() == std::vector<int32_t>{*tok->TokenId("a"), 600, 700});
  CHECK(tok->TokenBytes(650).empty());  // a gap is no token
  const std::vector<int32_t> gap = {650};
  CHECK(tok->Decode(gap).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("load: non-normalized added tokens are matched before normalized ones") {
  // Hugging Face's order: a single leftmost-longest pass would give "ab" + "c".
  Json doc = TinyJson();
  doc["added_tokens"].push_back({{"id", 600}, {"content", "ab"}, {"normalized", true}});
  doc["added_tokens"].push_back({{"id", 601}, {"content", "bc"}, {"normalized", false}});
  const auto tok = MustLoad(doc.dump());
  CHECK(tok->Encode("abc").value() == std::vector<int32_t>{*tok->TokenId("a"), 601});
}

TEST_CASE("load: malformed files are kCorruptFile naming the field") {
  ExpectError("{\"model\": ", StatusCode::kCorruptFile, "malformed JSON");
  ExpectError("[1, 2]", StatusCode::kCorruptFile, "JSON object");
  {
    Json doc = TinyJson();
    doc.erase("model");
    ExpectError(doc.dump(), StatusCode::kCorruptFile, "\"model\"");
  }
  {
    Json doc = TinyJson();
    doc["model"]["merges"].push_back("Ġ nosuchtoken");
    ExpectError(doc.dump(), StatusCode::kCorruptFile, "model.merges[");
  }
  {
    Json doc = TinyJson();
    doc["model"]["merges"].push_back("ab");
    ExpectError(doc.dump(), StatusCode::kCorruptFile, "model.merges[");
  }
  {
    Json doc = TinyJson();
    doc["model"]["vocab"].erase("Ġ");  // the byte-level token of ' '
    ExpectError(doc.dump(), StatusCode::kCorruptFile, "model.vocab");
  }
  {
    Json doc = TinyJson();
    doc["model"]["vocab"]["extra"] = -3;
    ExpectError(doc.dump(), StatusCode::kCorruptFile, "model.vocab[\"extra\"]");
  }
  {
    Json doc = TinyJson();
    doc["model"]["vocab"]["extra"] = 5;  // id 5 is already a byte token
    ExpectError(doc.dump(), StatusCode::kCorruptFile, "used by two tokens");
  }
  {
    Json doc = TinyJson();
    doc["added_tokens"][3].erase("id");
    ExpectError(doc.dump(), StatusCode::kCorruptFile, "added_tokens[3]");
  }
  {
    Json doc = TinyJson();
    doc["added_tokens"].push_back({{"id", kTinyVocab - 1}, {"content", "<other>"}});
    ExpectError(doc.dump(), StatusCode::kCorruptFile, "added_tokens[");
  }
  {
    Json doc = TinyJson();
    doc["added_tokens"].push_back({{"id", 900}, {"content", "<think>"}});
    ExpectError(doc.dump(), StatusCode::kCorruptFile, ".content");
  }
  {
    Json doc = TinyJson();
    doc["added_tokens"][0]["content"] = "<other>";  // id 0 is BOS in the vocab
    ExpectError(doc.dump(), StatusCode::kCorruptFile, "added_tokens[0].id");
  }
  {
    // A repeated key: nlohmann alone would keep the last value and lose a token.
    std::string text = tinygen::BuildTokenizerJson(kTinyVocab);
    const size_t vocab = text.find("\"vocab\": {");
    REQUIRE(vocab != std::string::npos);
    text.insert(vocab + 10, "\"!\": 400, \"!\": 401,");
    ExpectError(text, StatusCode::kCorruptFile, "appears twice");
  }
}

TEST_CASE("load: other pipelines are kUnsupported naming the field") {
  {
    Json doc = TinyJson();
    doc["model"]["type"] = "WordPiece";
    ExpectError(doc.dump(), StatusCode::kUnsupported, "model.type");
  }
  {
    Json doc = TinyJson();
    doc["model"]["byte_fallback"] = true;
    ExpectError(doc.dump(), StatusCode::kUnsupported, "model.byte_fallback");
  }
  {
    Json doc = TinyJson();
    doc["normalizer"] = {{"type", "NFC"}};
    ExpectError(doc.dump(), StatusCode::kUnsupported, "normalizer");
  }
  {
    Json doc = TinyJson();
    doc["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\p{N}";
    ExpectError(doc.dump(), StatusCode::kUnsupported, "pre_tokenizer.pretokenizers[0]");
  }
  {
    Json doc = TinyJson();
    doc["pre_tokenizer"]["pretokenizers"][2]["behavior"] = "Removed";
    ExpectError(doc.dump(), StatusCode::kUnsupported, "pre_tokenizer.pretokenizers[2]");
  }
  {
    Json doc = TinyJson();
    doc["pre_tokenizer"]["pretokenizers"][3]["add_prefix_space"] = true;
    ExpectError(doc.dump(), StatusCode::kUnsupported, "pre_tokenizer.pretokenizers[3].add_prefix_space");
  }
  {
    Json doc = TinyJson();
    doc["pre_tokenizer"] = {{"type", "Whitespace"}};
    ExpectError(doc.dump(), StatusCode::kUnsupported, "pre_tokenizer");
  }
  {
    Json doc = TinyJson();
    doc["decoder"] = {{"type", "WordPiece"}};
    ExpectError(doc.dump(), StatusCode::kUnsupported, "decoder");
  }
  {
    Json doc = TinyJson();
    doc["added_tokens"][0]["lstrip"] = true;
    ExpectError(doc.dump(), StatusCode::kUnsupported, "added_tokens[0].lstrip");
  }
}

}  // namespace
}  // namespace deepseek

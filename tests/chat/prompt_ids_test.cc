// The whole text-in path on the shared vectors: request JSON → chat encoder → V4 tokenizer gives
// exactly the reference's token ids (shared/chat/deepseek-v4/tokenized_v4.jsonl).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "chat_cases.h"
#include "deepseek/chat.h"
#include "deepseek/tokenizer.h"
#include "support/shared_data.h"

namespace deepseek::testing {
namespace {

TEST_CASE("chat prompt ids: every encode vector tokenizes to the reference's ids") {
  auto tokenizer = Tokenizer::Load(SharedDir() + "/tokenizer/deepseek-v4/tokenizer.json");
  REQUIRE_MESSAGE(tokenizer.ok(), tokenizer.status().ToString());
  std::istringstream lines(ReadFile(ChatDir() + "/tokenized_v4.jsonl"));
  const std::vector<EncodeCase> cases = EncodeCases();
  size_t checked = 0;
  for (const EncodeCase& c : cases) {
    CAPTURE(c.name);
    std::string line;
    REQUIRE(std::getline(lines, line));
    const nlohmann::json expected = nlohmann::json::parse(line);
    // The file names cases by their output file: official/test_output_N, extra/extra_encode_NN.
    const std::string name = expected["name"];
    const bool official = c.name.starts_with("official_");
    CHECK(name == (official ? "official/test_output_" + c.name.substr(9) : "extra/" + c.name));
    Result<std::string> prompt = EncodeChatRequestJson(c.request);
    REQUIRE_MESSAGE(prompt.ok(), prompt.status().ToString());
    Result<std::vector<int32_t>> ids = tokenizer.value()->Encode(prompt.value());
    REQUIRE_MESSAGE(ids.ok(), ids.status().ToString());
    CHECK(ids.value() == expected["ids"].get<std::vector<int32_t>>());
    ++checked;
  }
  CHECK(checked == 29);
  std::string rest;
  CHECK_FALSE(std::getline(lines, rest));  // no line left unchecked
}

}  // namespace
}  // namespace deepseek::testing

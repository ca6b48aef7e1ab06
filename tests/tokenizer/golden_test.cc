// Every line of the golden files from ../shared/tokenizer/golden, produced by Hugging Face
// tokenizers 0.22.2 (and confirmed by transformers.js): exact ids, both decodes, round trip.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "support/shared_data.h"
#include "tokenizer/shared_tokenizers.h"

namespace deepseek {
namespace {

using testing::SharedDir;
using testing::SharedTokenizer;

struct GoldenCounts {
  int lines = 0;
  int encode_mismatches = 0;
};

// Checks every line of golden/<version>.jsonl; `check_skip_special` is off where the `special`
// flags of the tokenizer are a guess.
GoldenCounts CheckGolden(const std::string& version, bool check_skip_special) {
  const auto tok = SharedTokenizer(version);
  std::istringstream lines(testing::ReadFile(SharedDir() + "/tokenizer/golden/" + version + ".jsonl"));
  GoldenCounts counts;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    const auto g = nlohmann::json::parse(line);
    const std::string id = g.at("id");
    const std::string text = g.at("text");
    const std::vector<int32_t> expected = g.at("ids");
    ++counts.lines;
    CAPTURE(id);
    auto ids = tok->Encode(text);
    REQUIRE_MESSAGE(ids.ok(), ids.status().ToString());
    if (ids.value() != expected) ++counts.encode_mismatches;
    CHECK(ids.value() == expected);
    auto decoded = tok->Decode(expected);
    REQUIRE(decoded.ok());
    CHECK(decoded.value() == g.at("decoded").get<std::string>());
    CHECK(decoded.value() == text);  // every golden line round-trips
    if (check_skip_special) {
      auto skipped = tok->Decode(expected, /*skip_special_tokens=*/true);
      REQUIRE(skipped.ok());
      CHECK(skipped.value() == g.at("decoded_skip_special").get<std::string>());
    }
  }
  return counts;
}

TEST_CASE("golden: DeepSeek V3 tokenizer, all lines") {
  const GoldenCounts c = CheckGolden("deepseek-v3", true);
  CHECK(c.lines == 360);
  CHECK(c.encode_mismatches == 0);
}

// The skip-special decode is checked for V4 too: the goldens were produced with the same
// guessed flags (special: true for the V4-only tokens) that ../shared's V4 file carries.
TEST_CASE("golden: DeepSeek V4 tokenizer (reconstructed), all lines") {
  const GoldenCounts c = CheckGolden("deepseek-v4", true);
  CHECK(c.lines == 360);
  CHECK(c.encode_mismatches == 0);
}

}  // namespace
}  // namespace deepseek

// Engram's compressed token map (tokenizer/engram_token_map.h): the V4.1 reference's map of the
// goldens' stand-in vocabulary id for id, the size of the real tokenizer's map (spec §8.4), and
// the normaliser chain step by step.
#include <doctest/doctest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "format/safetensors.h"
#include "shared_tokenizers.h"
#include "support/shared_data.h"
#include "tokenizer/engram_token_map.h"

namespace deepseek::tokenizer {
namespace {

TEST_CASE("Engram token map equals the V4.1 reference's on the goldens' vocabulary") {
  const std::string dir = testing::SharedDir() + "/golden/v41/v41_text";
  const nlohmann::json vocab = nlohmann::json::parse(testing::ReadFile(dir + "/ckpt/tokenizer_vocab.json"));
  std::vector<TokenTexts> entries;
  for (const nlohmann::json& t : vocab["tokens"]) {
    REQUIRE(t["id"].get<size_t>() == entries.size());
    entries.push_back({t["token"].get<std::string>(), t["text"].get<std::string>()});
  }
  const EngramTokenMap map = BuildEngramTokenMap(entries);
  const nlohmann::json config = nlohmann::json::parse(testing::ReadFile(dir + "/ckpt/config.json"));
  CHECK(map.size == config["text_config"]["engram_compressed_vocab_size"].get<int32_t>());

  const auto run = format::SafetensorsFile::Open(dir + "/main_fixed.safetensors");
  const format::TensorInfo* want = run.Find("engram.token_map");
  REQUIRE(want != nullptr);
  REQUIRE(want->dtype == format::DType::kI32);
  REQUIRE(static_cast<size_t>(want->numel()) == map.ids.size());
  for (size_t id = 0; id < map.ids.size(); ++id) {
    int32_t v;
    std::memcpy(&v, want->data + 4 * id, 4);
    CHECK_MESSAGE(map.ids[id] == v, "token " << id << " '" << entries[id].text << "'");
  }
}

TEST_CASE("Engram token map of the DeepSeek tokenizer has the V4.1 config's 99,092 ids") {
  const EngramTokenMap map = BuildEngramTokenMap(*testing::SharedTokenizer("deepseek-v4"));
  CHECK(map.ids.size() == 129280);
  CHECK(map.size == 99092);
}

TEST_CASE("Engram normaliser: compatibility forms, accents, case, whitespace") {
  CHECK(EngramNormalize(" The") == "the");
  CHECK(EngramNormalize("THE  ") == "the");
  CHECK(EngramNormalize("Café") == "cafe");             // precomposed é loses its accent
  CHECK(EngramNormalize("Cafe\xCC\x81") == "cafe");     // so does a combining one
  CHECK(EngramNormalize("\xEF\xBC\xA1") == "a");        // fullwidth A (NFKC) lowercased
  CHECK(EngramNormalize("\xEF\xAC\x81") == "fi");       // the fi ligature
  CHECK(EngramNormalize("a \t\r\n b") == "a b");        // a run of spaces is one space
  CHECK(EngramNormalize(" ") == " ");                   // exactly one space survives
  CHECK(EngramNormalize("\n") == " ");                  // as does what collapses to it
  CHECK(EngramNormalize("  ") == " ");
  CHECK(EngramNormalize("\xE3\x80\x80x\xE2\x80\xA8") == "x");  // other White_Space is stripped
  CHECK(EngramNormalize("") == "");
  CHECK_THROWS_AS(EngramNormalize("\xff"), Error);
}

}  // namespace
}  // namespace deepseek::tokenizer

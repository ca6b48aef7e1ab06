// Engram's n-gram hash (model/engram_hash.h): the derived multipliers, primes and row ids
// against the V4.1 goldens (the reference's own engram.hash_ids, image spans included), the
// prime run of the real V4.1-Flash configuration (its table sizes, spec §8.4), a hand-computed
// hash, and the refusals.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "format/safetensors.h"
#include "model/config_parser.h"
#include "model/engram_hash.h"
#include "support/golden_arrays.h"
#include "support/shared_data.h"
#include "v41_case.h"

namespace deepseek::model {
namespace {

TEST_CASE("Engram row ids equal the V4.1 reference's, image spans included") {
  testing::ForEachV41Case([&](const testing::V41Case& golden) {
    const ModelConfig& model = golden.config;
    const EngramConfig& config = model.engram;
    const std::vector<EngramLayerHash> hashes = DeriveEngramHashes(config);
    REQUIRE(hashes.size() == config.layer_ids.size());
    // The sub-tables fill the tables the checkpoint holds.
    for (size_t l = 0; l < hashes.size(); ++l) CHECK(hashes[l].rows() == config.num_embeddings[l]);

    const format::SafetensorsFile& run = golden.run;
    const std::vector<int64_t> tokens = testing::GoldenInts(run, "tokens");
    const std::vector<int64_t> token_map = testing::GoldenInts(run, "engram.token_map");
    const std::vector<int64_t> want = testing::GoldenInts(run, "engram.hash_ids");  // [N, layers, (n − 1)·heads]
    const int64_t image_token = model.image_token_id;
    const int64_t pad = token_map[static_cast<size_t>(model.pad_token_id)];
    const auto per_layer = static_cast<size_t>((config.max_ngram - 1) * config.heads);
    REQUIRE(want.size() == tokens.size() * hashes.size() * per_layer);
    int image_positions = 0;
    for (size_t p = 0; p < tokens.size(); ++p) {
      std::vector<int64_t> recent;  // newest first; −1 before the sequence and for image tokens
      for (int k = 0; k < config.max_ngram; ++k) {
        const auto q = static_cast<int64_t>(p) - k;
        recent.push_back(q < 0 || tokens[static_cast<size_t>(q)] == image_token ? -1 : token_map[static_cast<size_t>(tokens[static_cast<size_t>(q)])]);
      }
      image_positions += tokens[p] == image_token;
      for (size_t l = 0; l < hashes.size(); ++l) {
        std::vector<int64_t> rows(per_layer);
        EngramRowIds(hashes[l], recent, pad, rows);
        const auto first = want.begin() + static_cast<std::ptrdiff_t>((p * hashes.size() + l) * per_layer);
        CHECK_MESSAGE(std::equal(rows.begin(), rows.end(), first), "position " << p << ", Engram layer " << l);
      }
    }
    CHECK(image_positions == (model.vision.n_layers > 0 ? 10 : 0));

    // The same from the sequence, whole and as a tail that starts max_ngram − 1 before a split.
    const std::vector<int32_t> ids(tokens.begin(), tokens.end()), map(token_map.begin(), token_map.end());
    for (size_t l = 0; l < hashes.size(); ++l) {
      for (const int64_t split : {int64_t{0}, int64_t{11}, static_cast<int64_t>(ids.size()) - 1}) {
        const int64_t context = std::min<int64_t>(split, config.max_ngram - 1);
        const std::vector<int64_t> rows = EngramSequenceRows(hashes[l], map, static_cast<int32_t>(image_token), pad,
                                                             std::span(ids).subspan(static_cast<size_t>(split - context)), context);
        REQUIRE(rows.size() == (ids.size() - static_cast<size_t>(split)) * per_layer);
        for (size_t p = static_cast<size_t>(split); p < ids.size(); ++p) {
          const auto first = want.begin() + static_cast<std::ptrdiff_t>((p * hashes.size() + l) * per_layer);
          CHECK(std::equal(first, first + static_cast<std::ptrdiff_t>(per_layer), rows.begin() + static_cast<std::ptrdiff_t>((p - static_cast<size_t>(split)) * per_layer)));
        }
      }
    }
  });
}

TEST_CASE("Engram primes of the V4.1-Flash configuration give its table sizes") {
  // Layers 1 and 14, orders 2-4, 8 heads, primes above 15,999,999 (spec §8.4).
  const std::vector<EngramLayerHash> hashes = DeriveEngramHashes({{1, 14}, {}, 4, 8, 256, 16'000'000, 99'092});
  REQUIRE(hashes.size() == 2);
  CHECK(hashes[0].rows() == 384'006'168);
  CHECK(hashes[1].rows() == 384'016'682);
  CHECK(hashes[0].primes.front() == 16'000'057);  // the first prime above 15,999,999
  for (const EngramLayerHash& h : hashes) {
    REQUIRE(h.multipliers.size() == 4);
    for (int64_t m : h.multipliers) {
      CHECK(m % 2 == 1);
      CHECK(m <= std::numeric_limits<int64_t>::max() / 99'092);  // id · m stays within int64
    }
  }
  CHECK(hashes[0].multipliers != hashes[1].multipliers);
}

TEST_CASE("Engram row ids follow the rolling multiply-XOR hash, worked by hand") {
  EngramLayerHash h;
  h.id_limit = 100;
  h.multipliers = {3, 5, 7};       // orders 2 and 3
  h.primes = {11, 13, 17, 19};     // two heads per order
  h.offsets = {0, 11, 24, 41};
  std::vector<int64_t> rows(4);
  // Tokens 4 (p), 6 (p − 1), 9 (p − 2): rolling 4·3 = 12, then 12 ^ 30 = 18, then 18 ^ 63 = 45.
  EngramRowIds(h, std::vector<int64_t>{4, 6, 9}, 1, rows);
  CHECK(rows == std::vector<int64_t>{18 % 11, 11 + 18 % 13, 24 + 45 % 17, 41 + 45 % 19});
  // A dead token at p − 1 blocks the walk: pad 1 at p − 1 and p − 2 although p − 2 is text.
  // rolling 12 ^ 5 = 9, then 9 ^ 7 = 14.
  EngramRowIds(h, std::vector<int64_t>{4, -1, 9}, 1, rows);
  CHECK(rows == std::vector<int64_t>{9, 11 + 9, 24 + 14, 41 + 14});
  // The start of a sequence: fewer entries than orders are padded the same way.
  std::vector<int64_t> short_rows(4);
  EngramRowIds(h, std::vector<int64_t>{4}, 1, short_rows);
  CHECK(short_rows == rows);
}

TEST_CASE("Engram hashing refuses ids and configurations out of range") {
  EngramLayerHash h;
  h.id_limit = 10;
  h.multipliers = {3, 5};
  h.primes = {11};
  h.offsets = {0};
  std::vector<int64_t> rows(1), none;
  CHECK_THROWS_AS(EngramRowIds(h, std::vector<int64_t>{10, 1}, 1, rows), Error);  // id beyond the map
  CHECK_THROWS_AS(EngramRowIds(h, std::vector<int64_t>{1, 1}, 10, rows), Error);  // pad beyond it
  CHECK_THROWS_AS(EngramRowIds(h, std::vector<int64_t>{1, 1}, 1, none), Error);   // no room
  CHECK_THROWS_WITH_AS(DeriveEngramHashes({{1}, {}, 1, 8, 32, 100, 50}), doctest::Contains("engram_max_ngram_size"), Error);
  CHECK_THROWS_WITH_AS(DeriveEngramHashes({{1}, {}, 4, 0, 32, 100, 50}), doctest::Contains("engram_n_heads"), Error);
  CHECK_THROWS_WITH_AS(DeriveEngramHashes({{1}, {}, 4, 8, 32, 1, 50}), doctest::Contains("engram_vocab_size"), Error);
  CHECK_THROWS_WITH_AS(DeriveEngramHashes({{1}, {}, 4, 8, 32, 100, 0}), doctest::Contains("engram_compressed_vocab_size"), Error);
  CHECK_THROWS_WITH_AS(DeriveEngramHashes({{4, 1}, {}, 4, 8, 32, 100, 50}), doctest::Contains("engram_layer_ids"), Error);
}

}  // namespace
}  // namespace deepseek::model

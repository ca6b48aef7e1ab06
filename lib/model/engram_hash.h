// Engram's hashed n-gram row ids (spec §8.4, steps 2-4): per Engram layer, odd multipliers drawn
// as the reference draws them, the run of consecutive primes that sizes its sub-tables, and the
// rolling multiply-XOR hash of a position's compressed token ids into one table row per n-gram
// order (2 .. max) and head. Row ids depend only on token ids, so they can be computed ahead of
// the layers (and the rows prefetched) as soon as the tokens are known.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "deepseek/config.h"

namespace deepseek::model {

// One Engram layer's hash: multipliers[k] for the token at p − k (k < max_ngram); for order
// k + 1 and head h, sub-table j = (k − 1)·heads + h has primes[j] rows starting at offsets[j].
struct EngramLayerHash {
  int64_t id_limit = 0;  // compressed ids (and the pad) lie in [0, id_limit)
  std::vector<int64_t> multipliers;
  std::vector<int64_t> primes, offsets;
  int64_t rows() const { return offsets.empty() ? 0 : offsets.back() + primes.back(); }
};

// The hashes of every Engram layer, in layer_ids order, derived as the reference derives them
// (num_embeddings and head_dim are not used):
// multipliers 2·r + 1 with r drawn from numpy.random.default_rng(10007·layer) in [0, half), half =
// max(1, (INT64_MAX / compressed_vocab) / 2) (so id · multiplier stays within int64); primes the
// next unused prime above vocab_size − 1 for each (layer, order), advancing per head. Throws
// Error(kInvalidConfig) naming the field that is out of range.
std::vector<EngramLayerHash> DeriveEngramHashes(const EngramConfig& config);

// The row ids of one position: recent[k] is the compressed id of the token at p − k (newest
// first), or −1 where that position is before the sequence or dead (an image token); from the
// first −1 on, the walk is blocked and every later shift takes `pad`, the compressed pad id.
// Fewer entries than max_ngram count as blocked. rows receives (max_ngram − 1)·heads ids.
// Throws Error(kInvalidArgument) for an id or pad outside [0, id_limit) or a short `rows`.
void EngramRowIds(const EngramLayerHash& hash, std::span<const int64_t> recent, int64_t pad, std::span<int64_t> rows);

// The row ids of positions [first, tokens.size()) of a token sequence ([n − first, hash.primes]
// row-major): `tokens` holds the sequence, or its tail from at least max_ngram − 1 tokens before
// `first` (earlier ones are never looked at; before the first of them the sequence starts).
// Ids are compressed through token_map; image_token is dead (blocks the walk).
std::vector<int64_t> EngramSequenceRows(const EngramLayerHash& hash, std::span<const int32_t> token_map, int32_t image_token,
                                        int64_t pad, std::span<const int32_t> tokens, int64_t first);

// Checks a compressed token map against `config`: one id per vocabulary entry, each below
// engram_compressed_vocab_size. Throws Error(kInvalidArgument) starting with `what`.
void CheckEngramTokenMap(std::span<const int32_t> ids, const ModelConfig& config, const std::string& what);

}  // namespace deepseek::model

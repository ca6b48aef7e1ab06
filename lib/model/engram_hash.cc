#include "model/engram_hash.h"

#include <algorithm>
#include <limits>
#include <set>
#include <string>

#include "core/error.h"
#include "core/numpy_random.h"

namespace deepseek::model {
namespace {

[[noreturn]] void BadField(const std::string& field, const std::string& why) {
  Fail(StatusCode::kInvalidConfig, "Engram hash: " + field + " " + why);
}

bool IsPrime(int64_t n) {
  if (n < 2) return false;
  for (int64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

// The reference's seed base per Engram layer.
constexpr uint64_t kLayerSeedStep = 10007;

}  // namespace

std::vector<EngramLayerHash> DeriveEngramHashes(const EngramConfig& c) {
  if (c.max_ngram < 2 || c.max_ngram > 16) BadField("engram_max_ngram_size", "= " + std::to_string(c.max_ngram) + " is not in [2, 16]");
  if (c.heads < 1 || c.heads > 64) BadField("engram_n_heads", "= " + std::to_string(c.heads) + " is not in [1, 64]");
  // Up to 2^29 ids the multipliers' range is wider than 2^32 (NumPy's 64-bit draw path).
  if (c.compressed_vocab < 1 || c.compressed_vocab > (int64_t{1} << 29)) {
    BadField("engram_compressed_vocab_size", "= " + std::to_string(c.compressed_vocab) + " is not in [1, 2^29]");
  }
  // Prime search by trial division: vocab sizes up to 2^40 keep it to milliseconds.
  if (c.vocab_size < 2 || c.vocab_size > (int64_t{1} << 40)) BadField("engram_vocab_size", "= " + std::to_string(c.vocab_size) + " is not in [2, 2^40]");
  if (!std::is_sorted(c.layer_ids.begin(), c.layer_ids.end()) || (!c.layer_ids.empty() && c.layer_ids.front() < 0)) {
    BadField("engram_layer_ids", "must be ascending layer indices");
  }
  const int64_t half = std::max<int64_t>(1, std::numeric_limits<int64_t>::max() / c.compressed_vocab / 2);
  std::set<int64_t> used;
  std::vector<EngramLayerHash> hashes;
  for (int layer : c.layer_ids) {
    EngramLayerHash& h = hashes.emplace_back();
    NumpyPcg64 rng(kLayerSeedStep * static_cast<uint64_t>(layer));
    h.id_limit = c.compressed_vocab;
    for (int k = 0; k < c.max_ngram; ++k) h.multipliers.push_back(2 * rng.Integer(0, half) + 1);
    for (int order = 2; order <= c.max_ngram; ++order) {
      int64_t candidate = c.vocab_size;  // the first above vocab_size − 1
      for (int head = 0; head < c.heads; ++head) {
        while (!IsPrime(candidate) || used.count(candidate) != 0) ++candidate;
        used.insert(candidate);
        h.offsets.push_back(h.primes.empty() ? 0 : h.offsets.back() + h.primes.back());
        h.primes.push_back(candidate);
      }
    }
  }
  return hashes;
}

void EngramRowIds(const EngramLayerHash& hash, std::span<const int64_t> recent, int64_t pad, std::span<int64_t> rows) {
  const auto orders = static_cast<int>(hash.multipliers.size());
  const auto heads = static_cast<int>(hash.primes.size()) / std::max(1, orders - 1);
  if (rows.size() < hash.primes.size()) {
    Fail(StatusCode::kInvalidArgument, "EngramRowIds: room for " + std::to_string(rows.size()) + " of " +
                                           std::to_string(hash.primes.size()) + " row ids");
  }
  const auto check = [&](int64_t id) {
    if (id >= hash.id_limit) {
      Fail(StatusCode::kInvalidArgument, "EngramRowIds: compressed id " + std::to_string(id) + " outside [0, " +
                                             std::to_string(hash.id_limit) + ")");
    }
  };
  if (pad < 0) check(hash.id_limit);
  check(pad);
  int64_t rolling = 0;
  bool blocked = false;
  for (int k = 0; k < orders; ++k) {
    blocked = blocked || static_cast<size_t>(k) >= recent.size() || recent[static_cast<size_t>(k)] < 0;
    const int64_t v = blocked ? pad : recent[static_cast<size_t>(k)];
    check(v);
    // Non-negative: every id is below the compressed vocabulary, and multipliers keep id · mult
    // within int64, so the XOR of such products is a non-negative int64 too.
    rolling ^= v * hash.multipliers[static_cast<size_t>(k)];
    if (k == 0) continue;
    for (int head = 0; head < heads; ++head) {
      const auto j = static_cast<size_t>((k - 1) * heads + head);
      rows[j] = rolling % hash.primes[j] + hash.offsets[j];
    }
  }
}

std::vector<int64_t> EngramSequenceRows(const EngramLayerHash& hash, std::span<const int32_t> token_map, int32_t image_token,
                                        int64_t pad, std::span<const int32_t> tokens, int64_t first) {
  const auto n = static_cast<int64_t>(tokens.size()), cols = static_cast<int64_t>(hash.primes.size());
  const auto orders = static_cast<int64_t>(hash.multipliers.size());
  std::vector<int64_t> rows(static_cast<size_t>(std::max<int64_t>(0, n - first) * cols)), recent;
  for (int64_t p = first; p < n; ++p) {
    recent.clear();
    for (int64_t k = 0; k < orders && p - k >= 0; ++k) {  // newest first
      const int32_t token = tokens[static_cast<size_t>(p - k)];
      if (token < 0 || static_cast<size_t>(token) >= token_map.size()) {
        Fail(StatusCode::kInvalidArgument, "Engram: token id " + std::to_string(token) + " outside the token map");
      }
      recent.push_back(token == image_token ? -1 : token_map[static_cast<size_t>(token)]);
    }
    EngramRowIds(hash, recent, pad, std::span(rows).subspan(static_cast<size_t>((p - first) * cols), static_cast<size_t>(cols)));
  }
  return rows;
}

void CheckEngramTokenMap(std::span<const int32_t> ids, const ModelConfig& c, const std::string& what) {
  if (static_cast<int64_t>(ids.size()) != c.vocab_size) {
    Fail(StatusCode::kInvalidArgument, what + " has " + std::to_string(ids.size()) + " entries for a vocabulary of " +
                                           std::to_string(c.vocab_size));
  }
  for (int32_t id : ids) {
    if (id < 0 || id >= c.engram.compressed_vocab) {
      Fail(StatusCode::kInvalidArgument, what + ": compressed id " + std::to_string(id) + " outside [0, engram_compressed_vocab_size " +
                                             std::to_string(c.engram.compressed_vocab) + ")");
    }
  }
}

}  // namespace deepseek::model

// Helpers of the runtime tests that drive sessions: token sequences, options built fluently,
// feeding a sequence in calls of given sizes, and bit-exact comparison of logits traces.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "deepseek/session.h"

namespace deepseek::testing {

using Logits = std::vector<float>;

int32_t Vocab();

// `n` token ids spread over the vocabulary; each seed gives another sequence.
std::vector<int32_t> Tokens(size_t n, int32_t seed);

// SessionOptions built fluently (designated initializers trip GCC's -Wmissing-field-initializers).
struct Options : SessionOptions {
  explicit Options(int threads) { num_threads = threads; }
  Options& MaxContext(int64_t n) { return max_context = n, *this; }
  Options& Chunk(int64_t n) { return prefill_chunk = n, *this; }
  Options& Mtp() { return enable_mtp = true, *this; }
  Options& Progress(std::function<bool(int64_t, int64_t)> fn) { return progress = std::move(fn), *this; }
  Options& Cache(std::shared_ptr<KvCache> cache) { return kv_cache = std::move(cache), *this; }
};

std::unique_ptr<Session> NewSession(const SessionOptions& options);
Logits LogitsOf(const Session& s);
// One call: Decode for a single token, Prefill otherwise; returns the logits after it.
Logits Step(Session& s, std::span<const int32_t> tokens);
// Feeds `tokens` as consecutive calls of the given sizes; the logits after each call.
std::vector<Logits> Feed(Session& s, std::span<const int32_t> tokens, const std::vector<size_t>& sizes);
// Prefill calls of the given sizes, then `decodes` single-token steps.
std::vector<size_t> Steps(std::vector<size_t> prefill, size_t decodes);
std::vector<Logits> Last(std::vector<Logits> all, size_t n);
// "" when `a` and `b` hold the same bits, else where they first differ (shown on failure).
std::string BitDiff(std::span<const float> a, std::span<const float> b);
void CheckSameTraces(const std::vector<Logits>& got, const std::vector<Logits>& want);

}  // namespace deepseek::testing

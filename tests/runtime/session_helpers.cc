#include "session_helpers.h"

#include <doctest/doctest.h>

#include <cstring>

#include "tiny_fixture.h"

namespace deepseek::testing {

int32_t Vocab() { return static_cast<int32_t>(TinyModel()->config().vocab_size); }

// `n` token ids spread over the vocabulary; each seed gives another sequence.
std::vector<int32_t> Tokens(size_t n, int32_t seed) {
  std::vector<int32_t> tokens(n);
  for (size_t i = 0; i < n; ++i) tokens[i] = static_cast<int32_t>((seed * 101 + 37 * i + i * i) % Vocab());
  return tokens;
}

std::unique_ptr<Session> NewSession(const SessionOptions& options) {
  auto session = Session::Create(TinyModel(), options);
  REQUIRE_MESSAGE(session.ok(), session.status().ToString());
  return std::move(session).value();
}

Logits LogitsOf(const Session& s) { return {s.logits().begin(), s.logits().end()}; }

// One call: Decode for a single token, Prefill otherwise; returns the logits after it.
Logits Step(Session& s, std::span<const int32_t> tokens) {
  const Status status = tokens.size() == 1 ? s.Decode(tokens[0]) : s.Prefill(tokens);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  return LogitsOf(s);
}

// Feeds `tokens` as consecutive calls of the given sizes; the logits after each call.
std::vector<Logits> Feed(Session& s, std::span<const int32_t> tokens, const std::vector<size_t>& sizes) {
  std::vector<Logits> out;
  size_t at = 0;
  for (size_t n : sizes) {
    REQUIRE(at + n <= tokens.size());
    out.push_back(Step(s, tokens.subspan(at, n)));
    at += n;
  }
  return out;
}

// Prefill calls of the given sizes, then `decodes` single-token steps.
std::vector<size_t> Steps(std::vector<size_t> prefill, size_t decodes) {
  prefill.insert(prefill.end(), decodes, 1);
  return prefill;
}

std::vector<Logits> Last(std::vector<Logits> all, size_t n) {
  REQUIRE(all.size() >= n);
  all.erase(all.begin(), all.end() - static_cast<std::ptrdiff_t>(n));
  return all;
}

// "" when `a` and `b` hold the same bits, else where they first differ (shown on failure).
std::string BitDiff(std::span<const float> a, std::span<const float> b) {
  if (a.size() != b.size()) return "sizes differ: " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) {
      return "element " + std::to_string(i) + ": " + std::to_string(a[i]) + " vs " + std::to_string(b[i]);
    }
  }
  return "";
}

void CheckSameTraces(const std::vector<Logits>& got, const std::vector<Logits>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const std::string diff = BitDiff(got[i], want[i]);
    CHECK_MESSAGE(diff.empty(), "step " << i << ": " << diff);
    if (!diff.empty()) return;  // the later steps inherit the difference
  }
}

}  // namespace deepseek::testing

// Sampling options one by one: each filter keeps exactly the tokens its definition keeps.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "deepseek/sampler.h"

namespace deepseek {
namespace {

Sampler Make(const SamplingParams& p, int64_t vocab) {
  auto s = Sampler::Create(p, vocab);
  REQUIRE(s.ok());
  return std::move(s).value();
}

// Distinct tokens drawn over `draws` samples.
std::set<int32_t> Drawn(Sampler& s, const std::vector<float>& logits, int draws, const std::vector<int32_t>& history = {}) {
  std::set<int32_t> seen;
  for (int i = 0; i < draws; ++i) {
    auto t = s.Sample(logits, history);
    REQUIRE(t.ok());
    seen.insert(t.value());
  }
  return seen;
}

const std::vector<float> kLogits = {1.0f, 3.0f, 2.0f, 0.5f, 2.9f, -1.0f, 0.0f, 2.95f};

TEST_CASE("sampling: temperature 0 and top-k 1 are greedy") {
  SamplingParams greedy;
  greedy.temperature = 0;
  Sampler g = Make(greedy, 8);
  CHECK(Drawn(g, kLogits, 20) == std::set<int32_t>{1});
  SamplingParams k1;
  k1.top_k = 1;
  k1.seed = 7;
  Sampler s = Make(k1, 8);
  CHECK(Drawn(s, kLogits, 50) == std::set<int32_t>{1});
}

TEST_CASE("sampling: a fixed seed reproduces the draws, another seed differs") {
  SamplingParams p;
  p.seed = 42;
  Sampler a = Make(p, 8), b = Make(p, 8);
  p.seed = 43;
  Sampler c = Make(p, 8);
  std::vector<int32_t> ta, tb, tc;
  for (int i = 0; i < 200; ++i) {
    ta.push_back(a.Sample(kLogits, {}).value());
    tb.push_back(b.Sample(kLogits, {}).value());
    tc.push_back(c.Sample(kLogits, {}).value());
  }
  CHECK(ta == tb);
  CHECK(ta != tc);
}

TEST_CASE("sampling: top-k keeps the k most likely tokens") {
  SamplingParams p;
  p.top_k = 3;
  p.temperature = 5;  // flat enough that every kept token is drawn
  Sampler s = Make(p, 8);
  CHECK(Drawn(s, kLogits, 2000) == std::set<int32_t>{1, 7, 4});
}

TEST_CASE("sampling: top-p keeps the smallest set reaching the mass") {
  // Probabilities ~ {0.5, 0.3, 0.15, 0.05}: top-p 0.7 keeps the first two, 0.85 three.
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  SamplingParams p;
  p.top_p = 0.7f;
  Sampler s = Make(p, 4);
  CHECK(Drawn(s, logits, 3000) == std::set<int32_t>{0, 1});
  p.top_p = 0.85f;
  Sampler t = Make(p, 4);
  CHECK(Drawn(t, logits, 3000) == std::set<int32_t>{0, 1, 2});
}

TEST_CASE("sampling: min-p drops tokens below the fraction of the top probability") {
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  SamplingParams p;
  p.min_p = 0.35f;  // keeps p >= 0.175: tokens 0 and 1
  Sampler s = Make(p, 4);
  CHECK(Drawn(s, logits, 3000) == std::set<int32_t>{0, 1});
}

TEST_CASE("sampling: a -inf logit bias never appears, a positive one wins") {
  SamplingParams p;
  p.temperature = 3;
  p.logit_bias = {{1, -INFINITY}, {7, -INFINITY}};
  Sampler s = Make(p, 8);
  const auto drawn = Drawn(s, kLogits, 3000);
  CHECK(drawn.count(1) == 0);
  CHECK(drawn.count(7) == 0);
  CHECK(drawn.size() == 6);
  SamplingParams q;
  q.temperature = 0;
  q.logit_bias = {{5, 10.0f}};
  Sampler g = Make(q, 8);
  CHECK(g.Sample(kLogits, {}).value() == 5);
  SamplingParams all;
  for (int32_t t = 0; t < 8; ++t) all.logit_bias.emplace_back(t, -INFINITY);
  Sampler none = Make(all, 8);
  CHECK(none.Sample(kLogits, {}).status().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("sampling: repetition, presence and frequency penalties follow their definitions") {
  SamplingParams p;
  p.temperature = 0;
  p.repetition_penalty = 2.0f;  // token 1: 3.0 -> 1.5, below token 7's 2.95
  Sampler r = Make(p, 8);
  CHECK(r.Sample(kLogits, std::vector<int32_t>{1}).value() == 7);
  SamplingParams q;
  q.temperature = 0;
  q.presence_penalty = 0.03f;   // each seen once: token 1 3.0 - 0.07 = 2.93, token 7 2.95 - 0.07 = 2.88
  q.frequency_penalty = 0.04f;  // token 1 seen three times: 3.0 - 0.03 - 0.12 = 2.85, below unseen token 4's 2.9
  Sampler f = Make(q, 8);
  CHECK(f.Sample(kLogits, std::vector<int32_t>{1, 7}).value() == 1);
  CHECK(f.Sample(kLogits, std::vector<int32_t>{1, 1, 1, 7}).value() == 4);
}

TEST_CASE("sampling: invalid parameters and inputs are reported") {
  // Each case changes one field of the defaults to an invalid value.
  const std::function<void(SamplingParams&)> invalid[] = {
      [](SamplingParams& p) { p.temperature = -1; },
      [](SamplingParams& p) { p.top_p = 0; },
      [](SamplingParams& p) { p.min_p = 1.5f; },
      [](SamplingParams& p) { p.top_k = -2; },
      [](SamplingParams& p) { p.repetition_penalty = 0; },
      [](SamplingParams& p) { p.logit_bias = {{8, 1.0f}}; },
      [](SamplingParams& p) { p.logit_bias = {{0, NAN}}; },
  };
  for (const auto& change : invalid) {
    SamplingParams p;
    change(p);
    CHECK(Sampler::Create(p, 8).status().code() == StatusCode::kInvalidArgument);
  }
  Sampler s = Make({}, 8);
  CHECK(s.Sample(std::vector<float>(7, 0.0f), {}).status().code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace deepseek

namespace deepseek {
namespace {

// Pearson's chi-square statistic of observed counts against expected probabilities.
double ChiSquare(const std::vector<int64_t>& counts, const std::vector<double>& expected, int64_t n) {
  double chi = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    const double e = expected[i] * static_cast<double>(n);
    if (e > 0) chi += (static_cast<double>(counts[i]) - e) * (static_cast<double>(counts[i]) - e) / e;
  }
  return chi;
}

std::vector<double> Softmax(const std::vector<float>& logits) {
  double sum = 0;
  std::vector<double> p;
  for (float z : logits) sum += std::exp(static_cast<double>(z));
  for (float z : logits) p.push_back(std::exp(static_cast<double>(z)) / sum);
  return p;
}

// Speculative sampling must leave the target distribution unchanged whatever the draft
// distribution: drafts drawn from q, kept or replaced by Verify against p, come out as p.
TEST_CASE("sampling: Verify turns drafts drawn from q into draws from p") {
  constexpr int64_t kVocab = 6, kTrials = 200000;
  const std::vector<float> target = {2.0f, 0.5f, 1.0f, -1.0f, 0.0f, 1.5f};
  const std::vector<float> draft = {0.0f, 2.0f, 1.0f, 1.0f, -3.0f, 0.2f};  // a poor draft model
  SamplingParams params;
  params.seed = 5;
  Sampler s = Make(params, kVocab);
  const auto p = s.MakeDistribution(target, {});
  const auto q = s.MakeDistribution(draft, {});
  REQUIRE(p.ok());
  REQUIRE(q.ok());
  std::vector<int64_t> counts(kVocab, 0), drafted(kVocab, 0);
  int64_t accepted = 0;
  for (int64_t i = 0; i < kTrials; ++i) {
    const int32_t d = s.Draw(q.value());
    bool kept = false;
    const int32_t t = s.Verify(d, q.value(), p.value(), kept);
    REQUIRE(t >= 0);
    REQUIRE(t < kVocab);
    ++counts[static_cast<size_t>(t)];
    ++drafted[static_cast<size_t>(d)];
    accepted += kept;
  }
  // 5 degrees of freedom: 30 is exceeded with probability 1.5e-5 when the law holds.
  CHECK(ChiSquare(counts, Softmax(target), kTrials) < 30);
  CHECK(ChiSquare(drafted, Softmax(draft), kTrials) < 30);
  CHECK(ChiSquare(counts, Softmax(draft), kTrials) > 1000);  // the check can tell them apart
  // The acceptance rate is Σ min(p, q).
  double overlap = 0;
  const auto pp = Softmax(target), qq = Softmax(draft);
  for (size_t i = 0; i < pp.size(); ++i) overlap += std::min(pp[i], qq[i]);
  CHECK(static_cast<double>(accepted) / kTrials == doctest::Approx(overlap).epsilon(0.01));
}

TEST_CASE("sampling: Verify keeps every draft of an exact draft model, and greedy keeps only the argmax") {
  SamplingParams params;
  params.top_k = 4;
  Sampler s = Make(params, 8);
  const auto p = s.MakeDistribution(kLogits, {});
  REQUIRE(p.ok());
  for (int i = 0; i < 1000; ++i) {
    bool kept = false;
    const int32_t d = s.Draw(p.value());
    CHECK(s.Verify(d, p.value(), p.value(), kept) == d);
    CHECK(kept);
  }
  SamplingParams greedy;
  greedy.temperature = 0;
  Sampler g = Make(greedy, 8);
  const auto gp = g.MakeDistribution(kLogits, {});
  const auto gq = g.MakeDistribution(std::vector<float>{5, 0, 0, 0, 0, 0, 0, 0}, {});
  bool kept = true;
  CHECK(g.Verify(0, gq.value(), gp.value(), kept) == 1);  // the draft 0 is replaced by the argmax 1
  CHECK_FALSE(kept);
  CHECK(g.Verify(1, gp.value(), gp.value(), kept) == 1);
  CHECK(kept);
}

}  // namespace
}  // namespace deepseek

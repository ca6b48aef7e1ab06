// Token sampling from logits: logit bias, repetition / presence / frequency penalties, then
// greedy or temperature sampling with top-k, top-p and min-p filtering, from a seeded generator
// so that a run is reproducible.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "deepseek/status.h"

namespace deepseek {

struct SamplingParams {
  float temperature = 1.0f;          // 0 = greedy (argmax, ties to the lower id)
  int top_k = 0;                     // keep the k most likely tokens; 0 = off
  float top_p = 1.0f;                // keep the smallest set with probability >= top_p; 1 = off
  float min_p = 0.0f;                // drop tokens below min_p × the top probability; 0 = off
  float repetition_penalty = 1.0f;   // > 1: seen tokens' logits are divided (positive) or multiplied (negative)
  float presence_penalty = 0.0f;     // subtracted once from each seen token's logit
  float frequency_penalty = 0.0f;    // subtracted per occurrence of a seen token
  std::vector<std::pair<int32_t, float>> logit_bias;  // added to the token's logit; -inf bans it
  uint64_t seed = 0;                 // the same seed, params and inputs give the same tokens
};

class Sampler {
 public:
  // Checks the parameters against a vocabulary of `vocab_size` tokens.
  static Result<Sampler> Create(const SamplingParams& params, int64_t vocab_size);

  // Picks the next token from `logits` [vocab_size]; `history` holds the tokens the penalties
  // apply to (usually the generated ones). Returns kInvalidArgument for a logits span of the
  // wrong size, and kFailedPrecondition when the bias bans every token. Draw(Distribution(...)).
  Result<int32_t> Sample(std::span<const float> logits, std::span<const int32_t> history);

  // The distribution Sample draws from: the candidates after the bias, the penalties, the
  // temperature and the top-k / top-p / min-p filters, with weights proportional to their
  // probabilities; greedy (temperature 0) gives the top candidate alone.
  struct Distribution {
    std::vector<int32_t> ids;
    std::vector<double> weights;
    bool greedy = false;
    double Probability(int32_t id) const;
  };
  Result<Distribution> MakeDistribution(std::span<const float> logits, std::span<const int32_t> history);
  int32_t Draw(const Distribution& d);

  // Speculative sampling (Leviathan et al., Chen et al., 2023): `draft` was drawn from q (the
  // draft model's distribution) and p is the target's. Keeps the draft with probability
  // min(1, p(draft) / q(draft)), otherwise returns a draw from max(0, p − q) normalised; either
  // way the result is distributed exactly as p. `accepted` tells which happened.
  int32_t Verify(int32_t draft, const Distribution& q, const Distribution& p, bool& accepted);

 private:
  Sampler(SamplingParams params, int64_t vocab_size);

  SamplingParams params_;
  int64_t vocab_size_;
  std::mt19937_64 rng_;
  std::vector<float> scratch_;
  std::vector<int32_t> counts_;
  std::vector<double> dense_;  // scratch of Verify
};

}  // namespace deepseek

#include "deepseek/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace deepseek {
namespace {

Status Invalid(const std::string& what) { return Status(StatusCode::kInvalidArgument, "sampling: " + what); }

}  // namespace

Sampler::Sampler(SamplingParams params, int64_t vocab_size)
    : params_(std::move(params)), vocab_size_(vocab_size), rng_(params_.seed) {}

Result<Sampler> Sampler::Create(const SamplingParams& p, int64_t vocab_size) {
  if (vocab_size <= 0) return Invalid("vocab_size must be positive");
  if (!(p.temperature >= 0.0f) || !std::isfinite(p.temperature)) return Invalid("temperature must be finite and >= 0");
  if (p.top_k < 0) return Invalid("top_k must be >= 0");
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return Invalid("top_p must be in (0, 1]");
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return Invalid("min_p must be in [0, 1]");
  if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty)) return Invalid("repetition_penalty must be finite and > 0");
  if (!std::isfinite(p.presence_penalty) || !std::isfinite(p.frequency_penalty)) return Invalid("presence and frequency penalties must be finite");
  for (const auto& [id, bias] : p.logit_bias) {
    if (id < 0 || id >= vocab_size) return Invalid("logit_bias token id " + std::to_string(id) + " is outside the vocabulary");
    if (std::isnan(bias) || bias == INFINITY) return Invalid("logit_bias for token " + std::to_string(id) + " must be a number or -inf");
  }
  return Sampler(p, vocab_size);
}

Result<int32_t> Sampler::Sample(std::span<const float> logits, std::span<const int32_t> history) {
  Result<Distribution> d = MakeDistribution(logits, history);
  if (!d.ok()) return d.status();
  return Draw(d.value());
}

Result<Sampler::Distribution> Sampler::MakeDistribution(std::span<const float> logits, std::span<const int32_t> history) {
  if (static_cast<int64_t>(logits.size()) != vocab_size_) {
    return Invalid("expected " + std::to_string(vocab_size_) + " logits, got " + std::to_string(logits.size()));
  }
  std::vector<float>& z = scratch_;
  z.assign(logits.begin(), logits.end());
  for (const auto& [id, bias] : params_.logit_bias) z[static_cast<size_t>(id)] += bias;

  // Penalties from the history: each distinct token once (repetition, presence), plus its count.
  counts_.assign(static_cast<size_t>(vocab_size_), 0);
  for (int32_t t : history) {
    if (t >= 0 && t < vocab_size_) ++counts_[static_cast<size_t>(t)];
  }
  for (int64_t t = 0; t < vocab_size_; ++t) {
    const int32_t n = counts_[static_cast<size_t>(t)];
    if (n == 0) continue;
    float& v = z[static_cast<size_t>(t)];
    v = v > 0 ? v / params_.repetition_penalty : v * params_.repetition_penalty;
    v -= params_.presence_penalty + params_.frequency_penalty * static_cast<float>(n);
  }

  // Candidates by descending logit, ties to the lower id; banned (-inf) tokens never qualify.
  std::vector<int32_t> order(static_cast<size_t>(vocab_size_));
  std::iota(order.begin(), order.end(), 0);
  const auto by_logit = [&](int32_t a, int32_t b) {
    const float za = z[static_cast<size_t>(a)], zb = z[static_cast<size_t>(b)];
    return za > zb || (za == zb && a < b);
  };
  size_t keep = params_.top_k > 0 ? std::min(order.size(), static_cast<size_t>(params_.top_k)) : order.size();
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(), by_logit);
  while (keep > 0 && std::isinf(z[static_cast<size_t>(order[keep - 1])]) && z[static_cast<size_t>(order[keep - 1])] < 0) --keep;
  if (keep == 0) return Status(StatusCode::kFailedPrecondition, "sampling: every token is banned by logit_bias");
  Distribution d;
  if (params_.temperature == 0.0f) {
    d.ids = {order.front()};
    d.weights = {1.0};
    d.greedy = true;
    return d;
  }

  // Softmax at the temperature over the kept candidates, then top-p and min-p on probabilities.
  std::vector<double> prob(keep);
  const double top = z[static_cast<size_t>(order.front())];
  double sum = 0;
  for (size_t i = 0; i < keep; ++i) {
    sum += prob[i] = std::exp((z[static_cast<size_t>(order[i])] - top) / params_.temperature);
  }
  for (double& q : prob) q /= sum;
  if (params_.top_p < 1.0f) {
    double mass = 0;
    size_t n = 0;
    while (n < keep && mass < params_.top_p) mass += prob[n++];
    keep = std::max<size_t>(n, 1);
  }
  if (params_.min_p > 0.0f) {
    size_t n = 1;
    while (n < keep && prob[n] >= params_.min_p * prob[0]) ++n;
    keep = n;
  }
  d.ids.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep));
  d.weights.assign(prob.begin(), prob.begin() + static_cast<std::ptrdiff_t>(keep));
  return d;
}

double Sampler::Distribution::Probability(int32_t id) const {
  double total = 0, mine = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    total += weights[i];
    if (ids[i] == id) mine = weights[i];
  }
  return total > 0 ? mine / total : 0.0;
}

int32_t Sampler::Draw(const Distribution& d) {
  if (d.greedy) return d.ids.front();
  std::discrete_distribution<size_t> pick(d.weights.begin(), d.weights.end());
  return d.ids[pick(rng_)];
}

int32_t Sampler::Verify(int32_t draft, const Distribution& q, const Distribution& p, bool& accepted) {
  const double pd = p.Probability(draft), qd = q.Probability(draft);
  // Greedy targets need no random number: the draft is kept exactly when it is p's token.
  const double u = p.greedy ? 0.0 : std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  accepted = pd > 0 && u * qd < pd;
  if (accepted) return draft;
  // The residual max(0, p − q) over p's candidates (outside them p is 0), q spread over the
  // vocabulary for the lookups.
  const double p_total = std::accumulate(p.weights.begin(), p.weights.end(), 0.0);
  const double q_total = std::accumulate(q.weights.begin(), q.weights.end(), 0.0);
  std::vector<double>& q_of = dense_;
  q_of.assign(static_cast<size_t>(vocab_size_), 0.0);
  for (size_t i = 0; i < q.ids.size(); ++i) q_of[static_cast<size_t>(q.ids[i])] = q.weights[i] / q_total;
  Distribution residual;
  for (size_t i = 0; i < p.ids.size(); ++i) {
    const double r = p.weights[i] / p_total - q_of[static_cast<size_t>(p.ids[i])];
    if (r > 0) {
      residual.ids.push_back(p.ids[i]);
      residual.weights.push_back(r);
    }
  }
  if (residual.ids.empty()) return Draw(p);  // p == q up to rounding: any draw from p is right
  if (residual.ids.size() == 1) return residual.ids.front();
  return Draw(residual);
}

}  // namespace deepseek

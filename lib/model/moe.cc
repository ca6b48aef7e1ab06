#include "model/moe.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/numerics.h"
#include "core/unaligned.h"
#include "ops/ops.h"

namespace deepseek::model {
namespace {

struct Routes {
  int k = 0;
  std::vector<int32_t> experts;  // [S, k]
  std::vector<float> weights;    // [S, k]
};

// torch's softplus (threshold 20), then the square root.
float SqrtSoftplus(float x) { return std::sqrt(x > 20.0f ? x : std::log1p(std::exp(x))); }

Routes Route(const ChunkContext& ctx, int layer, const MoeWeights& w, const float* x) {
  const ModelConfig& c = ctx.config;
  const int64_t S = ctx.size();
  const int E = c.n_experts, k = c.n_active_experts;
  std::vector<float> scores(static_cast<size_t>(S * E));
  ops::MatMulF32(ctx.stream, w.gate, x, S, scores.data());
  for (float& s : scores) s = SqrtSoftplus(s);

  Routes r{k, std::vector<int32_t>(static_cast<size_t>(S * k)), std::vector<float>(static_cast<size_t>(S * k))};
  std::vector<float> biased(static_cast<size_t>(E));
  for (int64_t t = 0; t < S; ++t) {
    const float* s = scores.data() + t * E;
    const std::span<int32_t> ids(r.experts.data() + t * k, static_cast<size_t>(k));
    if (w.tid2eid) {
      const int64_t row = static_cast<int64_t>(ctx.tokens[static_cast<size_t>(t)]) * k;
      for (int i = 0; i < k; ++i) ids[static_cast<size_t>(i)] = static_cast<int32_t>(LoadUnaligned<int64_t>(w.tid2eid, row + i));
    } else {  // the bias steers selection only; weights come from the unbiased scores
      for (int e = 0; e < E; ++e) biased[static_cast<size_t>(e)] = s[e] + w.bias[e];
      const std::vector<int32_t> top = ops::TopK(biased, k);
      std::copy(top.begin(), top.end(), ids.begin());
    }
    const int64_t pos = ctx.positions[static_cast<size_t>(t)];
    if (ctx.observer) ctx.observer->ImposeRouting(layer, pos, ids);
    float sum = 0;
    for (int32_t e : ids) sum += s[e];
    for (int i = 0; i < k; ++i) {
      float& wt = r.weights[static_cast<size_t>(t * k + i)];
      wt = s[ids[static_cast<size_t>(i)]];
      if (c.norm_topk_prob) wt /= sum;
      wt *= static_cast<float>(c.route_scale);
    }
    if (ctx.observer) ctx.observer->OnRouting(layer, pos, ids, {r.weights.data() + t * k, static_cast<size_t>(k)});
  }
  return r;
}

// y [n, D] = W2 · bf16(route_weight · silu(min(W1·x, L)) ⊙ clamp(W3·x, ±L)); weights may be null.
void Expert(const ChunkContext& ctx, const ExpertWeights& w, const float* x, int64_t n, const float* weights,
            float* y) {
  const int64_t inter = w.w1.rows;
  const float limit = static_cast<float>(ctx.config.swiglu_limit);
  std::vector<float> gate(static_cast<size_t>(n * inter)), up(gate.size());
  ops::Linear(ctx.stream, w.w1, x, n, gate.data());
  ops::Linear(ctx.stream, w.w3, x, n, up.data());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < inter; ++j) {
      float g = gate[static_cast<size_t>(i * inter + j)], u = up[static_cast<size_t>(i * inter + j)];
      if (limit > 0) {
        u = std::fmin(std::fmax(u, -limit), limit);
        g = std::fmin(g, limit);
      }
      float h = g / (1.0f + std::exp(-g)) * u;
      if (weights) h *= weights[i];
      gate[static_cast<size_t>(i * inter + j)] = num::RoundBf16(h);
    }
  }
  ops::Linear(ctx.stream, w.w2, gate.data(), n, y);
}

}  // namespace

void Moe(const ChunkContext& ctx, int layer, const MoeWeights& w, const float* x, float* out) {
  const ModelConfig& c = ctx.config;
  const int64_t S = ctx.size(), D = c.dim;
  const Routes r = Route(ctx, layer, w, x);

  // Tokens are grouped per expert so each expert's weights are read once for the chunk; the
  // fp32 sum adds experts in ascending id order, then the shared expert, like the reference.
  std::vector<float> acc(static_cast<size_t>(S * D), 0.0f), xs, ws, ys;
  std::vector<int64_t> members;
  for (int e = 0; e < c.n_experts; ++e) {
    members.clear();
    ws.clear();
    for (int64_t t = 0; t < S; ++t) {
      for (int i = 0; i < r.k; ++i) {
        if (r.experts[static_cast<size_t>(t * r.k + i)] == e) {
          members.push_back(t);
          ws.push_back(r.weights[static_cast<size_t>(t * r.k + i)]);
        }
      }
    }
    if (members.empty()) continue;
    const int64_t n = static_cast<int64_t>(members.size());
    xs.resize(static_cast<size_t>(n * D));
    ys.resize(xs.size());
    for (int64_t i = 0; i < n; ++i) std::copy_n(x + members[static_cast<size_t>(i)] * D, D, xs.begin() + i * D);
    Expert(ctx, w.experts[static_cast<size_t>(e)], xs.data(), n, ws.data(), ys.data());
    for (int64_t i = 0; i < n; ++i) {
      float* dst = acc.data() + members[static_cast<size_t>(i)] * D;
      for (int64_t d = 0; d < D; ++d) dst[d] += ys[static_cast<size_t>(i * D + d)];
    }
  }
  ys.resize(static_cast<size_t>(S * D));
  Expert(ctx, w.shared, x, S, nullptr, ys.data());
  for (int64_t i = 0; i < S * D; ++i) out[i] = num::RoundBf16(acc[static_cast<size_t>(i)] + ys[static_cast<size_t>(i)]);
}

}  // namespace deepseek::model

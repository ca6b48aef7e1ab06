#include "backends/cpu/moe_layer.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/numerics.h"
#include "core/top_k.h"
#include "core/unaligned.h"

namespace deepseek::backend::cpu {
namespace {

// torch's softplus (threshold 20), then the square root.
float SqrtSoftplus(float x) { return std::sqrt(x > 20.0f ? x : std::log1p(std::exp(x))); }

// Each token's k experts and their weights (see the contract).
void Route(Stream& stream, const MoeLayerDesc& layer, const float* x, int64_t S, std::span<const int32_t> tokens,
           std::span<const int32_t> imposed, std::span<int32_t> experts, std::span<float> weights) {
  const int64_t E = layer.router.rows;
  const int k = layer.k;
  std::vector<float> scores(static_cast<size_t>(S * E)), biased(static_cast<size_t>(E));
  stream.MatMul(layer.router, x, S, scores.data());
  for (float& s : scores) s = SqrtSoftplus(s);
  for (int64_t t = 0; t < S; ++t) {
    const float* s = scores.data() + t * E;
    const std::span<int32_t> ids = experts.subspan(static_cast<size_t>(t * k), static_cast<size_t>(k));
    if (!imposed.empty()) {
      std::copy_n(imposed.begin() + t * k, k, ids.begin());
    } else if (layer.hash_routes) {
      const int64_t row = static_cast<int64_t>(tokens[static_cast<size_t>(t)]) * k;
      for (int i = 0; i < k; ++i) ids[static_cast<size_t>(i)] = static_cast<int32_t>(LoadUnaligned<int64_t>(layer.hash_routes, row + i));
    } else {  // the bias steers the choice only; the weights come from the unbiased scores
      for (int64_t e = 0; e < E; ++e) biased[static_cast<size_t>(e)] = s[e] + layer.bias[static_cast<size_t>(e)];
      const std::vector<int32_t> top = TopK(biased, k);
      std::copy(top.begin(), top.end(), ids.begin());
    }
    float sum = 0;
    for (int32_t e : ids) sum += s[e];
    for (int i = 0; i < k; ++i) {
      float& w = weights[static_cast<size_t>(t * k + i)];
      w = s[ids[static_cast<size_t>(i)]];
      if (layer.normalize) w /= sum;
      w *= layer.route_scale;
    }
  }
}

// y [n, D] = bf16(h · W2ᵀ), h = bf16(silu(min(x·W1ᵀ, L)) · clamp(x·W3ᵀ, ±L) · w) per row; weights
// may be null (1).
void Expert(Stream& stream, const ExpertMatrices& m, const float* x, int64_t n, const float* weights, float limit,
            float* y) {
  const int64_t inter = m.w1.rows;
  std::vector<float> gate(static_cast<size_t>(n * inter)), up(gate.size());
  stream.MatMul(m.w1, x, n, gate.data());
  stream.MatMul(m.w3, x, n, up.data());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < inter; ++j) {
      float g = num::RoundBf16(gate[static_cast<size_t>(i * inter + j)]);
      float u = num::RoundBf16(up[static_cast<size_t>(i * inter + j)]);
      if (limit > 0) {
        u = std::fmin(std::fmax(u, -limit), limit);
        g = std::fmin(g, limit);
      }
      float h = g / (1.0f + std::exp(-g)) * u;
      if (weights) h *= weights[i];
      gate[static_cast<size_t>(i * inter + j)] = num::RoundBf16(h);
    }
  }
  stream.MatMul(m.w2, gate.data(), n, y);
  for (int64_t i = 0; i < n * m.w2.rows; ++i) y[i] = num::RoundBf16(y[i]);
}

}  // namespace

void RunMoeLayer(Stream& stream, const MoeLayerDesc& layer, const float* x, int64_t S, int64_t D,
                 std::span<const int32_t> tokens, std::span<const int32_t> imposed, std::span<int32_t> experts,
                 std::span<float> weights, float* out) {
  Route(stream, layer, x, S, tokens, imposed, experts, weights);
  const int k = layer.k;
  // Tokens grouped per expert, so that each expert's weights are read once for the call; the
  // fp32 sum adds the experts in ascending id order, then the shared expert.
  std::vector<float> acc(static_cast<size_t>(S * D), 0.0f), xs, ws, ys;
  std::vector<int64_t> members;
  for (size_t e = 0; e < layer.experts.size(); ++e) {
    members.clear();
    ws.clear();
    for (int64_t t = 0; t < S; ++t) {
      for (int i = 0; i < k; ++i) {
        if (experts[static_cast<size_t>(t * k + i)] == static_cast<int32_t>(e)) {
          members.push_back(t);
          ws.push_back(weights[static_cast<size_t>(t * k + i)]);
        }
      }
    }
    if (members.empty()) continue;
    const auto n = static_cast<int64_t>(members.size());
    xs.resize(static_cast<size_t>(n * D));
    ys.resize(xs.size());
    for (int64_t i = 0; i < n; ++i) std::copy_n(x + members[static_cast<size_t>(i)] * D, D, xs.begin() + i * D);
    Expert(stream, layer.experts[e], xs.data(), n, ws.data(), layer.swiglu_limit, ys.data());
    for (int64_t i = 0; i < n; ++i) {
      float* dst = acc.data() + members[static_cast<size_t>(i)] * D;
      for (int64_t d = 0; d < D; ++d) dst[d] += ys[static_cast<size_t>(i * D + d)];
    }
  }
  ys.resize(static_cast<size_t>(S * D));
  Expert(stream, layer.shared, x, S, nullptr, layer.swiglu_limit, ys.data());
  for (int64_t i = 0; i < S * D; ++i) out[i] = num::RoundBf16(acc[static_cast<size_t>(i)] + ys[static_cast<size_t>(i)]);
}

}  // namespace deepseek::backend::cpu

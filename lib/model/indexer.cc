#include "model/indexer.h"

#include <algorithm>
#include <cmath>

#include "core/numerics.h"
#include "model/compressor.h"
#include "model/rope.h"
#include "ops/ops.h"

namespace deepseek::model {
namespace {

using num::RoundBf16;

// I[t, b] = Σ_h w_h · ReLU(q_h · k_b), with the bf16 roundings of the reference's bf16 einsum,
// product and sum, so that near-ties break the way they do there.
float Score(const float* q, const float* w, const float* key, int heads, int dim) {
  float total = 0;
  for (int h = 0; h < heads; ++h) {
    float dot = 0;
    for (int d = 0; d < dim; ++d) dot += q[h * dim + d] * key[d];
    total += RoundBf16(std::fmax(RoundBf16(dot), 0.0f) * w[h]);
  }
  return RoundBf16(total);
}

}  // namespace

std::vector<std::vector<int32_t>> SelectEntries(const ChunkContext& ctx, int layer, const IndexerWeights& w,
                                                const float* x, const float* cq, LayerState& state) {
  const ModelConfig& c = ctx.config;
  const int64_t S = ctx.size();
  const int heads = c.index_heads, dim = c.index_head_dim, ratio = w.compressor.ratio;
  const std::span<const float> freqs = ctx.rope.ForRatio(ratio);

  std::vector<float> q(static_cast<size_t>(S * heads * dim));
  ops::Linear(ctx.stream, w.wq_b, cq, S, q.data());
  ops::Rope(q.data(), S * heads, dim, dim - c.rope_dim, c.rope_dim, freqs, ctx.positions, heads, false);
  ops::Hadamard(q.data(), S * heads, dim);
  ops::FakeQuantFp4(q.data(), S * heads, dim, 32);

  Compress(ctx, layer, w.compressor, freqs, EntryQuant::kHadamardFp4, x, state.index_compressor, state.index_keys);

  std::vector<float> weights(static_cast<size_t>(S * heads));
  ops::Linear(ctx.stream, w.weights_proj, x, S, weights.data());
  const float weight_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dim)) / std::sqrt(static_cast<double>(heads)));
  for (float& v : weights) v = RoundBf16(v * weight_scale);

  // The keys any query of the chunk may see, unpacked once.
  const int64_t keys_visible = std::min<int64_t>(state.index_keys.rows(), (ctx.positions.back() + 1) / ratio);
  std::vector<float> keys(static_cast<size_t>(keys_visible * dim));
  state.index_keys.Read(ctx.stream, 0, keys_visible, keys.data());

  std::vector<std::vector<int32_t>> chosen(static_cast<size_t>(S));
  std::vector<float> scores;
  for (int64_t t = 0; t < S; ++t) {
    const int64_t pos = ctx.positions[static_cast<size_t>(t)];
    const int64_t visible = (pos + 1) / ratio;  // entries whose block has completed
    scores.resize(static_cast<size_t>(visible));
    for (int64_t b = 0; b < visible; ++b) {
      scores[static_cast<size_t>(b)] = Score(q.data() + t * heads * dim, weights.data() + t * heads,
                                             keys.data() + b * dim, heads, dim);
    }
    std::vector<int32_t>& sel = chosen[static_cast<size_t>(t)];
    sel = ops::TopK(scores, static_cast<int>(std::min<int64_t>(c.index_topk, visible)));
    if (ctx.observer) {
      ctx.observer->ImposeIndexSelection(layer, pos, sel);
      ctx.observer->OnIndexer(layer, pos, scores, sel);
    }
  }
  return chosen;
}

}  // namespace deepseek::model

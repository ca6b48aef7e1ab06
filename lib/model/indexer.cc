#include "model/indexer.h"

#include <algorithm>
#include <cmath>

#include "core/numerics.h"
#include "core/top_k.h"
#include "model/compressor.h"
#include "model/rope.h"
#include "ops/ops.h"

namespace deepseek::model {
namespace {

// Queries scored per call: their score rows ([queries, visible keys] floats) stay a few MiB
// even a million tokens deep.
constexpr int64_t kQueriesPerCall = 8;

}  // namespace

IndexerInputs ProjectIndexer(const ChunkContext& ctx, const IndexerWeights& w, int ratio, const float* x, const float* cq) {
  const ModelConfig& c = ctx.config;
  const int64_t S = ctx.size();
  const int heads = c.index_heads, dim = c.index_head_dim;
  IndexerInputs in;
  in.q.resize(static_cast<size_t>(S * heads * dim));
  ops::Linear(ctx.stream, w.wq_b, cq, S, in.q.data());
  ForRows(ctx, S, heads * dim, [&](int64_t t0, int64_t t1) {  // per token: its heads
    float* q = in.q.data() + t0 * heads * dim;
    const int64_t rows = (t1 - t0) * heads;
    ops::Rope(q, rows, dim, dim - c.rope_dim, c.rope_dim, ctx.rope.ForRatio(ratio), ctx.positions.subspan(static_cast<size_t>(t0), static_cast<size_t>(t1 - t0)),
              heads, false);
    if (c.family == ModelFamily::kV4) ops::Hadamard(q, rows, dim);
    ops::FakeQuantFp4(q, rows, dim, 32);
  });

  in.weights.resize(static_cast<size_t>(S * heads));
  ops::Linear(ctx.stream, w.weights_proj, x, S, in.weights.data());
  const float weight_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dim)) / std::sqrt(static_cast<double>(heads)));
  for (float& v : in.weights) v = num::RoundBf16(v * weight_scale);
  if (w.compressor.ratio > 0) in.keys = ProjectCompressor(ctx, w.compressor, x);
  return in;
}

void ScoreEntries(const ChunkContext& ctx, const IndexerInputs& in, int64_t first, const backend::KvRows& keys, int ratio,
                  const std::function<void(int64_t, std::span<const float>)>& on_row) {
  const ModelConfig& c = ctx.config;
  const int64_t S = ctx.size();
  const int heads = c.index_heads, dim = c.index_head_dim;
  const float* q = in.q.data() + first * heads * dim;
  const float* weights = in.weights.data() + first * heads;
  // The weights carry the reference's bf16 rounding (ProjectIndexer).
  const int64_t stride = std::max<int64_t>(1, (ctx.positions.back() + 1) / ratio);  // the most any query sees
  std::vector<float> scores(static_cast<size_t>(stride * std::min(kQueriesPerCall, S)));
  std::vector<int64_t> visible;
  for (int64_t t0 = 0; t0 < S; t0 += kQueriesPerCall) {
    const int64_t batch = std::min(kQueriesPerCall, S - t0);
    visible.clear();
    for (int64_t t = t0; t < t0 + batch; ++t) visible.push_back((ctx.positions[static_cast<size_t>(t)] + 1) / ratio);
    ctx.stream.IndexerScores(q + t0 * heads * dim, weights + t0 * heads, batch, heads, keys, visible, scores.data(), stride);
    for (int64_t t = t0; t < t0 + batch; ++t) {
      on_row(t, std::span<const float>(scores.data() + (t - t0) * stride, static_cast<size_t>(visible[static_cast<size_t>(t - t0)])));
    }
  }
}

std::vector<std::vector<int32_t>> SelectEntries(const ChunkContext& ctx, int layer, const IndexerWeights& w,
                                                const IndexerInputs& in, int64_t first, LayerState& state) {
  const ModelConfig& c = ctx.config;
  const int ratio = w.compressor.ratio;
  Compress(ctx, layer, w.compressor, ctx.rope.ForRatio(ratio), EntryQuant::kHadamardFp4, in.keys, first,
           state.index_compressor, state.index_keys);
  std::vector<std::vector<int32_t>> chosen(static_cast<size_t>(ctx.size()));
  ScoreEntries(ctx, in, first, state.index_keys.view(), ratio, [&](int64_t t, std::span<const float> row) {
    const int64_t pos = ctx.positions[static_cast<size_t>(t)];
    std::vector<int32_t>& sel = chosen[static_cast<size_t>(t)];
    sel = TopK(row, static_cast<int>(std::min<int64_t>(c.index_topk, static_cast<int64_t>(row.size()))));
    if (ctx.observer) {
      ctx.observer->ImposeIndexSelection(layer, pos, sel);
      ctx.observer->OnIndexer(layer, pos, row, sel);
    }
  });
  return chosen;
}

}  // namespace deepseek::model

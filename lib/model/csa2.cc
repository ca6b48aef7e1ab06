#include "model/csa2.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/top_k.h"
#include "model/rope.h"
#include "ops/ops.h"

namespace deepseek::model {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The imposing hook of a strict golden test, per new entry (the position is the token that
// closed its block).
void ImposeEntries(const ChunkContext& ctx, int layer, const char* cache, const PooledEntries& pooled, int ratio,
                   int64_t first_index, int width, float* rows) {
  if (!ctx.observer) return;
  for (int64_t i = 0; i < pooled.size(); ++i) {
    ctx.observer->ImposeCompressedEntry(layer, cache, pooled.positions[static_cast<size_t>(i)] + ratio - 1, first_index + i,
                                        {rows + i * width, static_cast<size_t>(width)});
  }
}

// A KV source's new entries: index keys k_norm(wk · latent) and the latents themselves, each
// rotated at its entry's position and quantised to its cache's grid (keys MXFP4, latents NVFP4).
void StoreEntries(const ChunkContext& ctx, int layer, const LayerKv& kv, const AttentionWeights& w, PooledEntries& pooled,
                  LayerState& own) {
  const ModelConfig& c = ctx.config;
  const int64_t n = pooled.size();
  if (n == 0) return;
  const std::span<const float> freqs = ctx.rope.ForRatio(kv.ratio);
  const int dim = c.head_dim, key_dim = c.index_head_dim;
  std::vector<float> projected(static_cast<size_t>(n * key_dim)), keys(projected.size());
  ops::Linear(ctx.stream, w.index_keys.wk, pooled.values.data(), n, projected.data());
  ops::RmsNorm(projected.data(), n, key_dim, w.index_keys.k_norm.ToFloat().data(), static_cast<float>(c.norm_eps), keys.data());
  ops::Rope(keys.data(), n, key_dim, key_dim - c.rope_dim, c.rope_dim, freqs, pooled.positions, 1, false);
  ops::FakeQuantFp4(keys.data(), n, key_dim, 32);
  ImposeEntries(ctx, layer, "index_k", pooled, kv.ratio, own.index_keys.rows(), key_dim, keys.data());
  own.index_keys.Write(ctx.stream, own.index_keys.rows(), n, keys.data());

  float* latents = pooled.values.data();
  ops::Rope(latents, n, dim, dim - c.rope_dim, c.rope_dim, freqs, pooled.positions, 1, false);
  ops::FakeQuantNvfp4(latents, n, dim);
  ImposeEntries(ctx, layer, "comp_kv", pooled, kv.ratio, own.compressed.rows(), dim, latents);
  // The entries are on the NVFP4 grid, so the packed rows hold them exactly.
  own.compressed.Write(ctx.stream, own.compressed.rows(), n, latents);
}

// An index source's selection over the keys of its KV source, as the reference makes it: the
// scores of all `width` entries the chunk's last row reaches (−inf where a row cannot), masked to
// the candidate blocks after the candidate source, then torch's top-k of min(index_topk, width)
// (−inf picks included when fewer entries are finite), minus the entries the row cannot see.
std::vector<std::vector<int32_t>> Select(const ChunkContext& ctx, int layer, const LayerKv& kv, const Csa2Inputs& in,
                                         int64_t first, const LayerState& cache, Csa2Handoff& handoff) {
  const ModelConfig& c = ctx.config;
  const int64_t S = ctx.size(), width = (ctx.positions.back() + 1) / kv.ratio;
  std::vector<std::vector<int32_t>> chosen(static_cast<size_t>(S));
  if (kv.candidate_source) handoff.candidate_blocks.assign(static_cast<size_t>(S), {});
  if (width == 0) return chosen;
  std::vector<float> row(static_cast<size_t>(width));
  ScoreEntries(ctx, in.index, first, cache.index_keys.view(), kv.ratio, [&](int64_t t, std::span<const float> scores) {
    const int64_t pos = ctx.positions[static_cast<size_t>(t)];
    const auto visible = static_cast<int64_t>(scores.size());
    std::copy(scores.begin(), scores.end(), row.begin());
    std::fill(row.begin() + visible, row.end(), kNegInf);
    if (kv.candidate_source) {
      handoff.candidate_blocks[static_cast<size_t>(t)] = CandidateBlocks(row, visible, c.candidate_block_size, c.candidate_topk_blocks);
    } else if (kv.uses_candidates) {
      const std::vector<uint8_t>& keep = handoff.candidate_blocks[static_cast<size_t>(t)];
      for (int64_t b = 0; b < width; ++b) {
        if (!keep[static_cast<size_t>(b / c.candidate_block_size)]) row[static_cast<size_t>(b)] = kNegInf;
      }
    }
    std::vector<int32_t>& sel = chosen[static_cast<size_t>(t)];
    for (int32_t b : TorchTopK(row, static_cast<int>(std::min<int64_t>(c.index_topk, width)))) {
      if (b < visible) sel.push_back(b);
    }
    std::sort(sel.begin(), sel.end());
    if (ctx.observer) {
      ctx.observer->ImposeIndexSelection(layer, pos, sel);
      ctx.observer->OnIndexer(layer, pos, row, sel);
    }
  });
  return chosen;
}

}  // namespace

std::vector<uint8_t> CandidateBlocks(std::span<const float> scores, int64_t visible, int block_size, int top_blocks) {
  const auto width = static_cast<int64_t>(scores.size());
  const int64_t n = (width + block_size - 1) / block_size;
  std::vector<float> best(static_cast<size_t>(n), kNegInf);
  for (int64_t b = 0; b < width; ++b) {
    float& m = best[static_cast<size_t>(b / block_size)];
    m = std::fmax(m, scores[static_cast<size_t>(b)]);
  }
  if (visible > 0) best[static_cast<size_t>((visible - 1) / block_size)] = std::numeric_limits<float>::infinity();
  std::vector<uint8_t> keep(static_cast<size_t>(n), 0);
  for (int32_t b : TorchTopK(best, static_cast<int>(std::min<int64_t>(top_blocks, n)))) {
    keep[static_cast<size_t>(b)] = best[static_cast<size_t>(b)] > kNegInf;
  }
  return keep;
}

Csa2Inputs ProjectCsa2(const ChunkContext& ctx, const LayerKv& kv, const AttentionWeights& w, const float* x, const float* cq) {
  Csa2Inputs in;
  if (w.has_compressor) in.latents = ProjectCompressor(ctx, w.compressor, x);
  if (w.has_indexer) in.index = ProjectIndexer(ctx, w.indexer, kv.ratio, x, cq);
  return in;
}

std::vector<std::vector<int32_t>> Csa2Entries(const ChunkContext& ctx, int layer, const LayerKv& kv, const AttentionWeights& w,
                                              const Csa2Inputs& in, int64_t first, SequenceState& seq, Csa2Handoff& handoff) {
  if (w.has_compressor) {
    LayerState& own = seq.layer(layer);
    PooledEntries pooled = Pool(ctx, w.compressor, in.latents, first, own.compressor);
    StoreEntries(ctx, layer, kv, w, pooled, own);
  }
  if (w.has_indexer) handoff.selection = Select(ctx, layer, kv, in, first, seq.layer(kv.cache_layer), handoff);
  return handoff.selection;
}

}  // namespace deepseek::model

// The indexer (spec §4.4f, §8.2): scores the visible compressed entries for each query with
// FP4-rounded queries and keys, weighted per head, and keeps the top k. In V4 every CSA layer
// runs one with its own compressor of Hadamard-rotated keys; in V4.1 index sources score the
// keys their KV source derived from its entries (csa2.h) and rotate nothing.
#pragma once

#include "model/compressor.h"

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "model/layer_context.h"
#include "model/state.h"
#include "model/weights.h"

namespace deepseek::model {

// The indexer's inputs of every row of the chunk (row-wise, all sequences at once): its
// queries (RoPE, V4's Hadamard, FP4) [S, heads·dim], their weights [S, heads] and, in V4, the
// projections of its compressor.
struct IndexerInputs {
  std::vector<float> q, weights;
  CompressorInputs keys;
};
IndexerInputs ProjectIndexer(const ChunkContext& ctx, const IndexerWeights& w, int ratio, const float* x, const float* cq);

// Scores, for each row t of one sequence (ctx.Rows, starting at row `first` of `in`), the
// entries of `keys` visible at its position (b < (pos + 1) / ratio), on the backend a few rows
// at a time, and hands them to on_row(t, scores).
void ScoreEntries(const ChunkContext& ctx, const IndexerInputs& in, int64_t first, const backend::KvRows& keys, int ratio,
                  const std::function<void(int64_t, std::span<const float>)>& on_row);

// V4: returns, per token of one sequence's rows (ctx.Rows, starting at row `first` of `in`),
// the compressed entries it attends (ascending order not implied); feeds its compressor first.
std::vector<std::vector<int32_t>> SelectEntries(const ChunkContext& ctx, int layer, const IndexerWeights& w,
                                                const IndexerInputs& in, int64_t first, LayerState& state);

}  // namespace deepseek::model

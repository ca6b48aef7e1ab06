// The Lightning indexer of CSA layers (spec §4.4f): scores every visible compressed entry for
// each query with FP4-rounded, Hadamard-rotated queries and keys, and keeps the top k.
#pragma once

#include "model/compressor.h"

#include <cstdint>
#include <vector>

#include "model/layer_context.h"
#include "model/state.h"
#include "model/weights.h"

namespace deepseek::model {

// The indexer's inputs of every row of the chunk (row-wise, all sequences at once): its
// queries (RoPE, Hadamard, FP4) [S, heads·dim], their weights [S, heads] and the projections
// of its compressor.
struct IndexerInputs {
  std::vector<float> q, weights;
  CompressorInputs keys;
};
IndexerInputs ProjectIndexer(const ChunkContext& ctx, const IndexerWeights& w, const float* x, const float* cq);

// Returns, per token of one sequence's rows (ctx.Rows, starting at row `first` of `in`), the
// compressed entries it attends (ascending order not implied); feeds its compressor first.
std::vector<std::vector<int32_t>> SelectEntries(const ChunkContext& ctx, int layer, const IndexerWeights& w,
                                                const IndexerInputs& in, int64_t first, LayerState& state);

}  // namespace deepseek::model

// V4.1's compressed attention, CSA2 (spec §8.2): the compressed part of a layer's attention.
// KV-source layers pool their entries (ratio 2, or one per token at ratio 1), derive each
// entry's index key from it before RoPE, and own both caches; later layers of the same ratio
// read them. Index-source layers score the keys and select entries; the layers after them
// attend the latest selection. The candidate source also publishes the best blocks of entries,
// and the index sources after it select only within them (the two-level indexer).
#pragma once

#include <cstdint>
#include <vector>

#include "model/compressor.h"
#include "model/indexer.h"
#include "model/layer_context.h"
#include "model/layer_kv.h"
#include "model/state.h"
#include "model/weights.h"

namespace deepseek::model {

// What one forward pass's index sources hand to the layers after them, for one sequence.
struct Csa2Handoff {
  std::vector<std::vector<int32_t>> selection;         // per row: the entries to attend, ascending
  std::vector<std::vector<uint8_t>> candidate_blocks;  // per row: 1 for each candidate block kept
};

// The row-wise projections of the chunk (all sequences at once) the layer's roles need.
struct Csa2Inputs {
  CompressorInputs latents;  // KV sources
  IndexerInputs index;       // index sources
};
Csa2Inputs ProjectCsa2(const ChunkContext& ctx, const LayerKv& kv, const AttentionWeights& w, const float* x, const float* cq);

// One sequence's rows (ctx.Rows, starting at row `first` of `in`) at `layer`: a KV source's
// new entries and their index keys go into its caches; an index source selects and hands its
// selection on. Returns the entries of the cache of kv.cache_layer each row attends.
std::vector<std::vector<int32_t>> Csa2Entries(const ChunkContext& ctx, int layer, const LayerKv& kv, const AttentionWeights& w,
                                              const Csa2Inputs& in, int64_t first, SequenceState& seq, Csa2Handoff& handoff);

// Level one of the two-level indexer, for one query: the scores of the cache's `width` entries
// (−inf where unreachable) as blocks of `block_size`, each scored by its best entry; the block
// holding the newest visible entry is pinned in (it is still filling); the `top_blocks` best
// reachable blocks are kept. Returns a flag per block.
std::vector<uint8_t> CandidateBlocks(std::span<const float> scores, int64_t visible, int block_size, int top_blocks);

}  // namespace deepseek::model

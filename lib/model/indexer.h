// The Lightning indexer of CSA layers (spec §4.4f): scores every visible compressed entry for
// each query with FP4-rounded, Hadamard-rotated queries and keys, and keeps the top k.
#pragma once

#include <cstdint>
#include <vector>

#include "model/layer_context.h"
#include "model/state.h"
#include "model/weights.h"

namespace deepseek::model {

// Returns, per chunk token, the compressed entries it attends (ascending order not implied).
// x [S, D] is the attention input and cq [S, q_lora] the normalised query latent.
std::vector<std::vector<int32_t>> SelectEntries(const ChunkContext& ctx, int layer, const IndexerWeights& w,
                                                const float* x, const float* cq, LayerState& state);

}  // namespace deepseek::model

// V4 attention (spec §4.4): low-rank queries with per-head RMS normalisation, one shared
// 512-wide K=V latent per token, a sliding window plus compressed entries (CSA: chosen by the
// indexer; HCA: all of them), a per-head sink, inverse RoPE and the grouped output projection.
#pragma once

#include "model/layer_context.h"
#include "model/state.h"
#include "model/weights.h"

namespace deepseek::model {

// out [S, D] = Attention(x [S, D]) for the chunk; updates the layer's caches of each sequence
// (states[i] for ctx.sequences[i]).
void Attention(const ChunkContext& ctx, int layer, const AttentionWeights& w, const float* x,
               std::span<LayerState* const> states, float* out);

}  // namespace deepseek::model

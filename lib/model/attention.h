// V4 attention (spec §4.4): low-rank queries with per-head RMS normalisation, one shared
// 512-wide K=V latent per token, a sliding window plus compressed entries (CSA: chosen by the
// indexer; HCA: all of them), a per-head sink, inverse RoPE and the grouped output projection.
// V4.1 (spec §8.2) drops the per-head normalisation, quantises window rows over every dim and
// shares compressed caches and selections between layers (csa2.h).
#pragma once

#include "model/layer_context.h"
#include "model/state.h"
#include "model/weights.h"

namespace deepseek::model {

// out [S, D] = Attention(x [S, D]) for the chunk at `layer`; updates the caches of each
// sequence (states[i] for ctx.sequences[i]) the layer owns.
void Attention(const ChunkContext& ctx, int layer, const AttentionWeights& w, const float* x,
               std::span<SequenceState* const> states, float* out);

}  // namespace deepseek::model

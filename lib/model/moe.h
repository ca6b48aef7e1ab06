// The MoE FFN (spec §4.5): sqrtsoftplus router (score top-k with selection-only bias, or a
// token-id hash table in the first layers), renormalised and scaled route weights, clamped
// SwiGLU experts, and the shared expert added to the routed sum — one backend operator
// (Stream::MoeLayer), so that a device runs routing and experts without the host between.
#pragma once

#include "model/layer_context.h"
#include "model/weights.h"

namespace deepseek::model {

// out [S, D] = MoE(x [S, D]) for the chunk's tokens.
void Moe(const ChunkContext& ctx, int layer, const MoeWeights& w, const float* x, float* out);

}  // namespace deepseek::model

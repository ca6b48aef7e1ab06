// Manifold-constrained hyper-connections (spec §4.3): n residual streams per token, collapsed
// before each sublayer by `pre` weights and re-expanded after it by `post` and the
// Sinkhorn-normalised mixing matrix `comb`.
#pragma once

#include <cstdint>
#include <vector>

#include "model/layer_context.h"
#include "model/weights.h"

namespace deepseek::model {

// The mixing coefficients of one site for S tokens: pre [S, n], post [S, n], comb [S, n, n]
// with comb[j][k] the weight of old stream j in new stream k.
struct MhcMix {
  int n = 0;
  std::vector<float> pre, post, comb;
};

// Sinkhorn–Knopp in the reference's order: row softmax + eps, a column normalisation, then
// (iters − 1) × (row, column) normalisations. `c` is n×n, row-major, normalised in place.
void Sinkhorn(float* c, int n, int iters, float eps);

// The site's coefficients for the streams X [S, n, D].
MhcMix MhcMixes(const ChunkContext& ctx, const MhcWeights& w, const float* streams);

// u [S, D] = bf16(Σ_i pre_i · X_i) per token, pre [S, n].
void MhcCollapse(const ChunkContext& ctx, const std::vector<float>& pre, const float* streams, float* u);

// Pre step of V4 (spec §4.3): the site's coefficients, and its own pre collapses the streams
// into the sublayer input u [S, D] (bf16 values). V4.1's single pass (spec §8.3) collapses with
// the previous site's pre instead: MhcMixes, then MhcCollapse with the carried pre.
MhcMix MhcPre(const ChunkContext& ctx, const MhcWeights& w, const float* streams, float* u);

// Post step: X'_k = post_k · f + Σ_j comb[j][k] · X_j, in place on streams [S, n, D].
void MhcPost(const ChunkContext& ctx, const MhcMix& mix, const float* f, float* streams);

// Final collapse: u = Σ_i (σ(m_i · s + b_i) + eps) · X_i for one or more positions.
void MhcHead(backend::Stream& stream, const ModelConfig& c, const MhcHeadWeights& w, const float* streams,
             int64_t rows, float* u);

}  // namespace deepseek::model

#include "model/transformer.h"

#include <algorithm>
#include <numeric>

#include "core/numerics.h"
#include "core/unaligned.h"
#include "model/attention.h"
#include "model/layer_context.h"
#include "model/mhc.h"
#include "model/moe.h"
#include "ops/ops.h"

namespace deepseek::model {
namespace {

std::vector<int64_t> Positions(int64_t first, int64_t n) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), first);
  return p;
}

void ReportMix(const ChunkContext& ctx, int layer, const char* site, const MhcMix& mix) {
  if (!ctx.observer) return;
  const size_t n = static_cast<size_t>(mix.n);
  for (int64_t t = 0; t < ctx.size(); ++t) {
    const size_t i = static_cast<size_t>(t);
    ctx.observer->OnMhc(layer, site, ctx.positions[i], {mix.pre.data() + i * n, n}, {mix.post.data() + i * n, n},
                        {mix.comb.data() + i * n * n, n * n});
  }
}

void ReportRows(const ChunkContext& ctx, int layer, const char* name, int64_t width, const float* data) {
  if (ctx.observer) ctx.observer->OnRows(layer, name, ctx.positions.front(), ctx.size(), width, data);
}

}  // namespace

Transformer::Transformer(ModelConfig config, std::unique_ptr<format::Checkpoint> checkpoint)
    : config_(std::move(config)),
      checkpoint_(std::move(checkpoint)),
      weights_(BindWeights(config_, *checkpoint_)),
      rope_(MakeRopeTables(config_)) {}

// One block: mHC pre → norm → attention → mHC post, then the same around the MoE.
void Transformer::Block(const ChunkContext& ctx, const BlockWeights& w, std::span<LayerState* const> states,
                        float* streams) const {
  const int64_t S = ctx.size(), D = config_.dim;
  const float eps = static_cast<float>(config_.norm_eps);
  std::vector<float> u(static_cast<size_t>(S * D)), x(u.size()), f(u.size());

  const MhcMix attn_mix = MhcPre(ctx, w.hc_attn, streams, u.data());
  ReportMix(ctx, w.layer, "attn", attn_mix);
  ops::RmsNorm(u.data(), S, D, w.attn_norm.ToFloat().data(), eps, x.data());
  Attention(ctx, w.layer, w.attn, x.data(), states, f.data());
  ReportRows(ctx, w.layer, "attn_out", D, f.data());
  MhcPost(ctx, attn_mix, f.data(), streams);

  const MhcMix ffn_mix = MhcPre(ctx, w.hc_ffn, streams, u.data());
  ReportMix(ctx, w.layer, "ffn", ffn_mix);
  ops::RmsNorm(u.data(), S, D, w.ffn_norm.ToFloat().data(), eps, x.data());
  Moe(ctx, w.layer, w.ffn, x.data(), f.data());
  ReportRows(ctx, w.layer, "ffn_out", D, f.data());
  MhcPost(ctx, ffn_mix, f.data(), streams);
  ReportRows(ctx, w.layer, "hc_out", config_.hc_mult * D, streams);
}

void Transformer::Embed(std::span<const int32_t> tokens, float* rows) const {
  const int64_t D = config_.dim;
  for (size_t t = 0; t < tokens.size(); ++t) {
    const int64_t first = static_cast<int64_t>(tokens[t]) * D;
    for (int64_t d = 0; d < D; ++d) {
      rows[static_cast<int64_t>(t) * D + d] = num::Bf16ToFloat(LoadUnaligned<uint16_t>(weights_.embed, first + d));
    }
  }
}

void Transformer::Forward(backend::Stream& stream, ForwardObserver* observer, std::span<SequenceState* const> states,
                          std::span<const int32_t> tokens, std::span<const int64_t> counts,
                          std::vector<float>& streams) const {
  const int64_t S = static_cast<int64_t>(tokens.size()), D = config_.dim, n = config_.hc_mult;
  std::vector<SequenceRows> sequences;
  std::vector<int64_t> positions;
  for (size_t g = 0; g < states.size(); ++g) {
    sequences.push_back({static_cast<int64_t>(positions.size()), counts[g]});
    const std::vector<int64_t> p = Positions(states[g]->position(), counts[g]);
    positions.insert(positions.end(), p.begin(), p.end());
  }
  const ChunkContext ctx{config_, stream, observer, rope_, tokens, positions, sequences};

  std::vector<float> h(static_cast<size_t>(S * D));
  Embed(tokens, h.data());
  streams.resize(static_cast<size_t>(S * n * D));
  for (int64_t t = 0; t < S; ++t) {  // every stream starts as the embedding
    for (int64_t i = 0; i < n; ++i) std::copy_n(h.begin() + t * D, D, streams.begin() + (t * n + i) * D);
  }
  std::vector<LayerState*> layer_states(states.size());
  for (const BlockWeights& w : weights_.layers) {
    if (observer) observer->ImposeLayerInput(w.layer, ctx.positions.front(), S, n * D, streams.data());
    for (size_t g = 0; g < states.size(); ++g) layer_states[g] = &states[g]->layer(w.layer);
    Block(ctx, w, layer_states, streams.data());
  }
  for (size_t g = 0; g < states.size(); ++g) states[g]->Advance(counts[g]);
}

void Transformer::Forward(backend::Stream& stream, ForwardObserver* observer, SequenceState& state,
                          std::span<const int32_t> tokens, std::vector<float>& streams) const {
  SequenceState* const states[] = {&state};
  const int64_t counts[] = {static_cast<int64_t>(tokens.size())};
  Forward(stream, observer, states, tokens, counts, streams);
}

void Transformer::Logits(backend::Stream& stream, const float* streams, int64_t rows, float* logits) const {
  const int64_t D = config_.dim;
  std::vector<float> u(static_cast<size_t>(rows * D)), x(u.size());
  MhcHead(stream, config_, weights_.hc_head, streams, rows, u.data());
  ops::RmsNorm(u.data(), rows, D, weights_.norm.ToFloat().data(), static_cast<float>(config_.norm_eps), x.data());
  ops::MatMulF32(stream, weights_.head, x.data(), rows, logits);
}

void Transformer::Mtp(backend::Stream& stream, ForwardObserver* observer, SequenceState& state,
                      std::span<const float> pending_streams, int64_t first_pos, std::span<const int32_t> next_tokens,
                      float* logits) const {
  const MtpWeights& w = weights_.mtp.front();
  const int64_t S = static_cast<int64_t>(next_tokens.size()), D = config_.dim, n = config_.hc_mult;
  const float eps = static_cast<float>(config_.norm_eps);
  const std::vector<int64_t> positions = Positions(first_pos, S);
  const SequenceRows rows[] = {{0, S}};
  const ChunkContext ctx{config_, stream, observer, rope_, next_tokens, positions, rows};

  // X_i ← e_proj(enorm(embed(next))) + h_proj(hnorm(X_i)) for each stream i.
  std::vector<float> e(static_cast<size_t>(S * D)), en(e.size()), ep(e.size());
  Embed(next_tokens, e.data());
  ops::RmsNorm(e.data(), S, D, w.enorm.ToFloat().data(), eps, en.data());
  ops::Linear(stream, w.e_proj, en.data(), S, ep.data());
  std::vector<float> streams(pending_streams.begin(), pending_streams.end()), hn(streams.size()), hp(streams.size());
  if (observer) observer->ImposeLayerInput(w.block.layer, first_pos, S, n * D, streams.data());
  ops::RmsNorm(streams.data(), S * n, D, w.hnorm.ToFloat().data(), eps, hn.data());
  ops::Linear(stream, w.h_proj, hn.data(), S * n, hp.data());
  for (int64_t t = 0; t < S; ++t) {
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t d = 0; d < D; ++d) {
        const size_t k = static_cast<size_t>((t * n + i) * D + d);
        streams[k] = num::RoundBf16(ep[static_cast<size_t>(t * D + d)] + hp[k]);
      }
    }
  }
  LayerState* const layer_states[] = {&state.mtp_layer(0)};
  Block(ctx, w.block, layer_states, streams.data());

  std::vector<float> u(static_cast<size_t>(D)), x(u.size());
  MhcHead(stream, config_, w.hc_head, streams.data() + (S - 1) * n * D, 1, u.data());
  ops::RmsNorm(u.data(), 1, D, w.norm.ToFloat().data(), eps, x.data());
  ops::MatMulF32(stream, weights_.head, x.data(), 1, logits);
}

}  // namespace deepseek::model

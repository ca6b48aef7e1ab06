#include "model/transformer.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/numerics.h"
#include "core/unaligned.h"
#include "model/attention.h"
#include "model/csa2.h"
#include "model/engram.h"
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

Transformer::Transformer(ModelConfig config, std::unique_ptr<format::Checkpoint> checkpoint, std::vector<int32_t> engram_token_map)
    : config_(std::move(config)),
      checkpoint_(std::move(checkpoint)),
      weights_(BindWeights(config_, *checkpoint_)),
      rope_(MakeRopeTables(config_)),
      engram_token_map_(std::move(engram_token_map)) {
  if (config_.engram.layer_ids.empty()) return;
  engram_hashes_ = DeriveEngramHashes(config_.engram);
  CheckEngramTokenMap(engram_token_map_, config_, "Engram: the compressed token map");
  for (size_t i = 0; i < engram_hashes_.size(); ++i) {
    if (engram_hashes_[i].rows() != weights_.engram[i].rows) {
      Fail(StatusCode::kInvalidConfig, "engram_num_embeddings: layer " + std::to_string(config_.engram.layer_ids[i]) + " has " +
                                           std::to_string(weights_.engram[i].rows) + " table rows where its hash addresses " +
                                           std::to_string(engram_hashes_[i].rows()));
    }
  }
}

int64_t Transformer::hidden_width() const {
  return config_.family == ModelFamily::kV41 ? config_.dim : int64_t{config_.hc_mult} * config_.dim;
}

// A sublayer's input u: V4 collapses the streams with the site's own pre; V4.1's single pass
// (spec §8.3) collapses with the pre carried from the previous site and carries this site's on.
MhcMix Transformer::Site(const ChunkContext& ctx, const MhcWeights& w, const float* streams, std::vector<float>& carried_pre,
                         float* u) const {
  if (config_.family == ModelFamily::kV4) return MhcPre(ctx, w, streams, u);
  MhcMix mix = MhcMixes(ctx, w, streams);
  MhcCollapse(ctx, carried_pre, streams, u);
  carried_pre = mix.pre;
  return mix;
}

// One block: mHC pre → norm → attention → mHC post, then the same around the MoE.
void Transformer::Block(const ChunkContext& ctx, const BlockWeights& w, std::span<SequenceState* const> states,
                        float* streams, std::vector<float>& carried_pre) const {
  const int64_t S = ctx.size(), D = config_.dim;
  const float eps = static_cast<float>(config_.norm_eps);
  ScratchStack::Frame frame(ctx.scratch);
  const std::span<float> u = frame.Floats(S * D), x = frame.Floats(S * D), f = frame.Floats(S * D);

  const MhcMix attn_mix = Site(ctx, w.hc_attn, streams, carried_pre, u.data());
  ReportMix(ctx, w.layer, "attn", attn_mix);
  ops::RmsNorm(u.data(), S, D, w.attn_norm.ToFloat().data(), eps, x.data());
  ReportRows(ctx, w.layer, "attn_in", D, x.data());
  Attention(ctx, w.layer, w.attn, x.data(), states, f.data());
  ReportRows(ctx, w.layer, "attn_out", D, f.data());
  MhcPost(ctx, attn_mix, f.data(), streams);

  const MhcMix ffn_mix = Site(ctx, w.hc_ffn, streams, carried_pre, u.data());
  ReportMix(ctx, w.layer, "ffn", ffn_mix);
  ops::RmsNorm(u.data(), S, D, w.ffn_norm.ToFloat().data(), eps, x.data());
  ReportRows(ctx, w.layer, "ffn_in", D, x.data());
  Moe(ctx, w.layer, w.ffn, x.data(), f.data());
  ReportRows(ctx, w.layer, "ffn_out", D, f.data());
  MhcPost(ctx, ffn_mix, f.data(), streams);
  ReportRows(ctx, w.layer, "hc_out", config_.hc_mult * D, streams);
}

// The table rows of Engram layer layer_ids[index] for every row of the chunk (spec §8.4, [S,
// (max_ngram − 1)·heads]): each sequence's from its tokens before the chunk (the last
// max_ngram − 1) and in it.
std::vector<int64_t> Transformer::EngramRowsOf(const ChunkContext& ctx, size_t index, std::span<SequenceState* const> states) const {
  const EngramConfig& e = config_.engram;
  const int64_t S = ctx.size(), cols = int64_t{e.max_ngram - 1} * e.heads;
  const int64_t pad = engram_token_map_[static_cast<size_t>(config_.pad_token_id)];
  std::vector<int64_t> out(static_cast<size_t>(S * cols));
  std::vector<int32_t> tokens;
  for (size_t g = 0; g < ctx.sequences.size(); ++g) {
    const SequenceRows& rows = ctx.sequences[g];
    const std::vector<int32_t>& history = states[g]->tokens;
    const auto context = std::min<int64_t>(static_cast<int64_t>(history.size()), e.max_ngram - 1);
    tokens.assign(history.end() - context, history.end());
    tokens.insert(tokens.end(), ctx.tokens.begin() + rows.first, ctx.tokens.begin() + rows.first + rows.count);
    const std::vector<int64_t> ids =
        EngramSequenceRows(engram_hashes_[index], engram_token_map_, config_.image_token_id, pad, tokens, context);
    std::copy(ids.begin(), ids.end(), out.begin() + rows.first * cols);
  }
  return out;
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

void Transformer::Forward(backend::Stream& stream, ThreadPool& pool, ScratchStack& scratch, ForwardObserver* observer, std::span<SequenceState* const> states,
                          std::span<const int32_t> tokens, std::span<const int64_t> counts, std::vector<float>& hidden,
                          std::span<const GivenEmbeddings> given) const {
  const int64_t S = static_cast<int64_t>(tokens.size()), D = config_.dim, n = config_.hc_mult;
  std::vector<SequenceRows> sequences;
  std::vector<int64_t> positions;
  for (size_t g = 0; g < states.size(); ++g) {
    sequences.push_back({static_cast<int64_t>(positions.size()), counts[g]});
    const std::vector<int64_t> p = Positions(states[g]->position(), counts[g]);
    positions.insert(positions.end(), p.begin(), p.end());
  }
  std::vector<uint8_t> in_image;  // V4.1: the MoE router's bias and Engram's shut gates
  if (config_.family == ModelFamily::kV41) {
    for (int32_t t : tokens) in_image.push_back(t == config_.image_token_id);
  }
  std::vector<Csa2Handoff> handoff(states.size());
  const ChunkContext ctx{config_, stream, pool, scratch, observer, rope_, tokens, positions, sequences, in_image, handoff};

  std::vector<float> h(static_cast<size_t>(S * D));
  Embed(tokens, h.data());
  for (const GivenEmbeddings& span : given) std::copy_n(span.values, span.rows * D, h.begin() + span.first_row * D);
  std::vector<float> streams(static_cast<size_t>(S * n * D));
  for (int64_t t = 0; t < S; ++t) {  // every stream starts as the embedding
    for (int64_t i = 0; i < n; ++i) std::copy_n(h.begin() + t * D, D, streams.begin() + (t * n + i) * D);
  }
  // V4.1's first site collapses with a one-hot pre: stream 0, the embedding.
  std::vector<float> carried_pre(static_cast<size_t>(S * n), 0.0f);
  for (int64_t t = 0; t < S; ++t) carried_pre[static_cast<size_t>(t * n)] = 1.0f;
  // Engram's rows depend only on the tokens: looked up now, so that the kernel reads them from
  // a table on disk while the layers before them compute.
  const std::vector<int>& engram_layers = config_.engram.layer_ids;
  std::vector<std::vector<int64_t>> engram(engram_layers.size());
  for (size_t i = 0; i < engram.size(); ++i) {
    engram[i] = EngramRowsOf(ctx, i, states);
    PrefetchEngramRows(weights_.engram[i], engram[i]);
  }
  for (const BlockWeights& w : weights_.layers) {
    if (observer) {
      observer->ImposeLayerInput(w.layer, ctx.positions.front(), S, n * D, streams.data());
      if (config_.family == ModelFamily::kV41) observer->ImposeCarriedPre(w.layer, ctx.positions.front(), S, config_.hc_mult, carried_pre.data());
    }
    const auto engram_layer = std::find(engram_layers.begin(), engram_layers.end(), w.layer);
    if (engram_layer != engram_layers.end()) {
      const auto i = static_cast<size_t>(engram_layer - engram_layers.begin());
      engram_bytes_ += ApplyEngram(stream, weights_.engram[i], config_, engram[i], in_image, S, streams.data());
      ReportRows(ctx, w.layer, "engram_out", n * D, streams.data());
    }
    Block(ctx, w, states, streams.data(), carried_pre);
    if (config_.family == ModelFamily::kV41) ReportRows(ctx, w.layer, "next_pre", n, carried_pre.data());
  }
  if (config_.family == ModelFamily::kV41) {  // no hc_head (spec §8.3): the last site's pre collapses
    hidden.resize(static_cast<size_t>(S * D));
    MhcCollapse(ctx, carried_pre, streams.data(), hidden.data());
  } else {
    hidden = std::move(streams);
  }
  for (size_t g = 0; g < states.size(); ++g) {
    const auto first = tokens.begin() + sequences[g].first;
    states[g]->tokens.insert(states[g]->tokens.end(), first, first + counts[g]);
    states[g]->Advance(counts[g]);
  }
}

void Transformer::Forward(backend::Stream& stream, ThreadPool& pool, ScratchStack& scratch, ForwardObserver* observer, SequenceState& state,
                          std::span<const int32_t> tokens, std::vector<float>& hidden,
                          std::span<const GivenEmbeddings> given) const {
  SequenceState* const states[] = {&state};
  const int64_t counts[] = {static_cast<int64_t>(tokens.size())};
  Forward(stream, pool, scratch, observer, states, tokens, counts, hidden, given);
}

void Transformer::Logits(backend::Stream& stream, const float* hidden, int64_t rows, float* logits) const {
  const int64_t D = config_.dim;
  std::vector<float> u(static_cast<size_t>(rows * D)), x(u.size());
  if (config_.family == ModelFamily::kV41) {
    std::copy_n(hidden, rows * D, u.begin());
  } else {
    MhcHead(stream, config_, weights_.hc_head, hidden, rows, u.data());
  }
  ops::RmsNorm(u.data(), rows, D, weights_.norm.ToFloat().data(), static_cast<float>(config_.norm_eps), x.data());
  ops::MatMulF32(stream, weights_.head, x.data(), rows, logits);
}

void Transformer::Mtp(backend::Stream& stream, ThreadPool& pool, ScratchStack& scratch, ForwardObserver* observer, SequenceState& state,
                      std::span<const float> pending_streams, int64_t first_pos, std::span<const int32_t> next_tokens,
                      float* logits) const {
  const MtpWeights& w = weights_.mtp.front();
  const int64_t S = static_cast<int64_t>(next_tokens.size()), D = config_.dim, n = config_.hc_mult;
  const float eps = static_cast<float>(config_.norm_eps);
  const std::vector<int64_t> positions = Positions(first_pos, S);
  const SequenceRows rows[] = {{0, S}};
  Csa2Handoff handoff[1];
  const ChunkContext ctx{config_, stream, pool, scratch, observer, rope_, next_tokens, positions, rows, {}, handoff};

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
  SequenceState* const states[] = {&state};
  std::vector<float> unused_pre;  // V4 only: each site collapses with its own pre
  Block(ctx, w.block, states, streams.data(), unused_pre);

  std::vector<float> u(static_cast<size_t>(D)), x(u.size());
  MhcHead(stream, config_, w.hc_head, streams.data() + (S - 1) * n * D, 1, u.data());
  ops::RmsNorm(u.data(), 1, D, w.norm.ToFloat().data(), eps, x.data());
  ops::MatMulF32(stream, weights_.head, x.data(), 1, logits);
}

}  // namespace deepseek::model

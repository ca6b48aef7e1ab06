#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "model/compressor.h"
#include "model/csa2.h"
#include "model/indexer.h"
#include "model/rope.h"
#include "ops/ops.h"

namespace deepseek::model {
namespace {

// q [S, H·hd]: W_qb · q_norm(W_qa · x), per-head RMS-normalised (V4 only), RoPE on each
// head's tail.
void Queries(const ChunkContext& ctx, const AttentionWeights& w, std::span<const float> freqs, const float* x,
             std::span<float> cq, std::span<float> q) {
  const ModelConfig& c = ctx.config;
  const int64_t S = ctx.size();
  ScratchStack::Frame frame(ctx.scratch);
  const std::span<float> a = frame.Floats(S * c.q_lora_rank);
  ops::Linear(ctx.stream, w.wq_a, x, S, a.data());
  ops::RmsNorm(a.data(), S, c.q_lora_rank, w.q_norm.ToFloat().data(), static_cast<float>(c.norm_eps), cq.data());
  ops::Linear(ctx.stream, w.wq_b, cq.data(), S, q.data());
  const int64_t width = c.n_heads * c.head_dim;
  ForRows(ctx, S, width, [&](int64_t t0, int64_t t1) {  // per token: its heads
    float* rows = q.data() + t0 * width;
    if (c.family == ModelFamily::kV4) ops::RmsNormNoWeightBf16(rows, (t1 - t0) * c.n_heads, c.head_dim, static_cast<float>(c.norm_eps));
    ops::Rope(rows, (t1 - t0) * c.n_heads, c.head_dim, c.head_dim - c.rope_dim, c.rope_dim, freqs,
              ctx.positions.subspan(static_cast<size_t>(t0), static_cast<size_t>(t1 - t0)), c.n_heads, false);
  });
}

// kv [S, hd]: kv_norm(W_kv · x), RoPE on the tail, FP8 fake quantisation: of the rest per 64
// (V4), of every dim per 32 (V4.1).
void Latents(const ChunkContext& ctx, const AttentionWeights& w, std::span<const float> freqs, const float* x,
             std::span<float> kv) {
  const ModelConfig& c = ctx.config;
  const int64_t S = ctx.size();
  ScratchStack::Frame frame(ctx.scratch);
  const std::span<float> raw = frame.Floats(S * c.head_dim);
  ops::Linear(ctx.stream, w.wkv, x, S, raw.data());
  ops::RmsNorm(raw.data(), S, c.head_dim, w.kv_norm.ToFloat().data(), static_cast<float>(c.norm_eps), kv.data());
  ops::Rope(kv.data(), S, c.head_dim, c.head_dim - c.rope_dim, c.rope_dim, freqs, ctx.positions, 1, false);
  if (c.family == ModelFamily::kV41) {
    ops::FakeQuantFp8(kv.data(), S, c.head_dim, c.head_dim, 32);
  } else {
    ops::FakeQuantFp8(kv.data(), S, c.head_dim, c.head_dim - c.rope_dim, 64);
  }
}

// The rows each query attends, as indices into the AttentionKv of the chunk (`fresh` = the
// chunk's own latents, then the ring's slots, then the compressed entries): its window
// (earlier positions from the ring, the chunk's own from `fresh`), then the chosen entries.
struct AttendedRows {
  std::vector<int64_t> offsets{0};
  std::vector<int32_t> indices;
};

AttendedRows AttendedRowsOf(const ChunkContext& ctx, const KvTable& window, const KvTable& compressed,
                            const std::vector<std::vector<int32_t>>& entries) {
  const ModelConfig& c = ctx.config;
  const int64_t start = ctx.positions.front(), S = ctx.size();
  const int64_t compressed_base = S + window.rows();
  AttendedRows r;
  for (int64_t t = 0; t < S; ++t) {
    const int64_t pos = start + t;
    for (int64_t p = std::max<int64_t>(0, pos - c.window + 1); p <= pos; ++p) {
      r.indices.push_back(static_cast<int32_t>(p >= start ? p - start : S + p % c.window));
    }
    if (!entries.empty()) {
      for (int32_t b : entries[static_cast<size_t>(t)]) {
        if (b >= 0 && b < compressed.rows()) r.indices.push_back(static_cast<int32_t>(compressed_base + b));
      }
    }
    r.offsets.push_back(static_cast<int64_t>(r.indices.size()));
  }
  return r;
}

// Entries visible at each position: all completed blocks (HCA).
std::vector<std::vector<int32_t>> AllEntries(const ChunkContext& ctx, int ratio) {
  std::vector<std::vector<int32_t>> entries(static_cast<size_t>(ctx.size()));
  for (int64_t t = 0; t < ctx.size(); ++t) {
    const int64_t visible = (ctx.positions[static_cast<size_t>(t)] + 1) / ratio;
    for (int64_t b = 0; b < visible; ++b) entries[static_cast<size_t>(t)].push_back(static_cast<int32_t>(b));
  }
  return entries;
}

// out = W_ob · concat_g(W_oa[g] · o_g): each group of H/G heads is projected separately.
void OutputProjection(const ChunkContext& ctx, const AttentionWeights& w, std::span<const float> o, float* out) {
  const ModelConfig& c = ctx.config;
  const int64_t S = ctx.size(), G = c.o_groups, R = c.o_lora_rank;
  const int64_t group_width = static_cast<int64_t>(c.n_heads) * c.head_dim / G;
  ScratchStack::Frame frame(ctx.scratch);
  const std::span<float> og = frame.Floats(S * group_width), low = frame.Floats(S * G * R), part = frame.Floats(S * R);
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t t = 0; t < S; ++t) {
      std::copy_n(o.begin() + t * G * group_width + g * group_width, group_width, og.begin() + t * group_width);
    }
    ops::Linear(ctx.stream, backend::RowSlice(w.wo_a, g * R, R), og.data(), S, part.data());
    for (int64_t t = 0; t < S; ++t) std::copy_n(part.begin() + t * R, R, low.begin() + t * G * R + g * R);
  }
  ops::Linear(ctx.stream, w.wo_b, low.data(), S, out);
}

// The sequence's latents (its last `window` of them) enter the ring after attention, so its
// earlier queries still saw the old rows.
void UpdateWindow(const ChunkContext& ctx, const float* kv, LayerState& st) {
  const ModelConfig& c = ctx.config;
  const int64_t start = ctx.positions.front(), end = start + ctx.size();
  ForEachRingRun(std::max<int64_t>(start, end - c.window), end, c.window, [&](int64_t slot, int64_t pos, int64_t n) {
    st.window.Write(ctx.stream, slot, n, kv + (pos - start) * c.head_dim);
  });
}

// The compressed part's row-wise inputs and per-sequence entries, by family: V4's compressor
// and indexer of the layer itself, or V4.1's shared caches and selections (csa2.h).
struct CompressedInputs {
  CompressorInputs compressor;
  IndexerInputs indexer;
  Csa2Inputs csa2;
};

CompressedInputs ProjectCompressed(const ChunkContext& ctx, const LayerKv& kv, const AttentionWeights& w, const float* x,
                                   const float* cq) {
  CompressedInputs in;
  if (ctx.config.family == ModelFamily::kV41) {
    in.csa2 = ProjectCsa2(ctx, kv, w, x, cq);
    return in;
  }
  if (w.has_compressor) in.compressor = ProjectCompressor(ctx, w.compressor, x);
  if (w.has_indexer) in.indexer = ProjectIndexer(ctx, w.indexer, kv.ratio, x, cq);
  return in;
}

std::vector<std::vector<int32_t>> CompressedEntries(const ChunkContext& seq, int layer, const LayerKv& kv,
                                                    const AttentionWeights& w, const CompressedInputs& in, int64_t first,
                                                    SequenceState& state, Csa2Handoff& handoff) {
  if (kv.ratio == 0) return {};
  if (seq.config.family == ModelFamily::kV41) return Csa2Entries(seq, layer, kv, w, in.csa2, first, state, handoff);
  LayerState& st = state.layer(layer);
  Compress(seq, layer, w.compressor, seq.rope.ForRatio(kv.ratio), EntryQuant::kFp8NonRope, in.compressor, first, st.compressor,
           st.compressed);
  return w.has_indexer ? SelectEntries(seq, layer, w.indexer, in.indexer, first, st) : AllEntries(seq, kv.ratio);
}

}  // namespace

void Attention(const ChunkContext& ctx, int layer, const AttentionWeights& w, const float* x,
               std::span<SequenceState* const> states, float* out) {
  const ModelConfig& c = ctx.config;
  const LayerKv& kv_plan = states.front()->pools().layers[static_cast<size_t>(layer)];
  const std::span<const float> freqs = ctx.rope.ForRatio(kv_plan.ratio);
  const int64_t q_width = static_cast<int64_t>(c.n_heads) * c.head_dim;

  // Row-wise, every sequence at once.
  ScratchStack::Frame frame(ctx.scratch);
  const int64_t S = ctx.size();
  const std::span<float> cq = frame.Floats(S * c.q_lora_rank), q = frame.Floats(S * q_width), kv = frame.Floats(S * c.head_dim);
  Queries(ctx, w, freqs, x, cq, q);
  Latents(ctx, w, freqs, x, kv);
  const CompressedInputs compressed = ProjectCompressed(ctx, kv_plan, w, x, cq.data());

  // Per sequence: its caches, the rows its queries attend, attention.
  const std::span<float> o = frame.Floats(S * q_width);
  for (size_t g = 0; g < ctx.sequences.size(); ++g) {
    const SequenceRows& rows = ctx.sequences[g];
    const ChunkContext seq = ctx.Rows(rows);
    SequenceState& state = *states[g];
    const std::vector<std::vector<int32_t>> entries =
        CompressedEntries(seq, layer, kv_plan, w, compressed, rows.first, state, ctx.csa2[g]);
    LayerState& st = state.layer(layer);
    const KvTable& cache = kv_plan.ratio > 0 ? state.layer(kv_plan.cache_layer).compressed : st.compressed;
    const AttendedRows attended = AttendedRowsOf(seq, st.window, cache, entries);
    const float* fresh = kv.data() + rows.first * c.head_dim;
    const backend::AttentionKv sources{fresh, rows.count, st.window.view(), cache.view()};
    ops::SparseAttention(ctx.stream, q.data() + rows.first * q_width, rows.count, c.n_heads, c.head_dim, sources,
                         attended.offsets, attended.indices, w.sink.ToFloat().data(),
                         1.0f / std::sqrt(static_cast<float>(c.head_dim)), o.data() + rows.first * q_width);
    UpdateWindow(seq, fresh, st);
  }
  ForRows(ctx, S, q_width, [&](int64_t t0, int64_t t1) {
    ops::Rope(o.data() + t0 * q_width, (t1 - t0) * c.n_heads, c.head_dim, c.head_dim - c.rope_dim, c.rope_dim, freqs,
              ctx.positions.subspan(static_cast<size_t>(t0), static_cast<size_t>(t1 - t0)), c.n_heads, true);
  });
  OutputProjection(ctx, w, o, out);
}

}  // namespace deepseek::model

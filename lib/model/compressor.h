// The KV compressor (spec §4.4e, §8.2): gated, per-channel softmax pooling of `ratio` consecutive
// tokens into one entry (overlapping windows of 2·ratio tokens when ratio is 4; V4.1's ratio 1
// has no gate and takes each token's projection as it is). Chunks of any size and start are fed
// token by token through the open-block state, which makes chunked prefill, one-shot prefill
// and decode the same computation.
#pragma once

#include <vector>

#include "model/layer_context.h"
#include "model/state.h"
#include "model/weights.h"

namespace deepseek::model {

// What happens to a V4 pooled entry after its norm and RoPE: the main KV cache fake-quantises
// its non-RoPE dims to FP8; the indexer's keys get a Hadamard rotation and FP4.
enum class EntryQuant { kFp8NonRope, kHadamardFp4 };

// The compressor's projections of the chunk's inputs x [S, D] (row-wise, every sequence of the
// chunk at once): kv and score [S, coff·w] each.
struct CompressorInputs {
  std::vector<float> kv, score;
  int64_t stride = 0;  // coff·w
  const float* kv_row(int64_t t) const { return kv.data() + t * stride; }
  const float* score_row(int64_t t) const { return score.data() + t * stride; }
};
CompressorInputs ProjectCompressor(const ChunkContext& ctx, const CompressorWeights& w, const float* x);

// The entries that completed while feeding a sequence's rows: normalised, before RoPE.
struct PooledEntries {
  std::vector<float> values;       // [n, width] (bf16 values)
  std::vector<int64_t> positions;  // each entry's position: its block's first token
  int64_t size() const { return static_cast<int64_t>(positions.size()); }
};

// Feeds one sequence's rows (ctx.Rows), starting at row `first` of `in`, to its compressor and
// returns the entries that complete (entry b covers positions b·ratio .. b·ratio + ratio − 1).
PooledEntries Pool(const ChunkContext& ctx, const CompressorWeights& w, const CompressorInputs& in, int64_t first,
                   CompressorState& state);

// V4's compressors: Pool, then each entry rotated at its position, quantised as `quant` says
// and appended to `out`.
void Compress(const ChunkContext& ctx, int layer, const CompressorWeights& w, std::span<const float> freqs, EntryQuant quant,
              const CompressorInputs& in, int64_t first, CompressorState& state, KvTable& out);

}  // namespace deepseek::model

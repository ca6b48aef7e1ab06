// The KV compressor (spec §4.4e): gated, per-channel softmax pooling of `ratio` consecutive
// tokens into one entry (overlapping windows of 2·ratio tokens when ratio is 4). Chunks of any
// size and start are fed token by token through the open-block state, which makes chunked
// prefill, one-shot prefill and decode the same computation.
#pragma once

#include <vector>

#include "model/layer_context.h"
#include "model/state.h"
#include "model/weights.h"

namespace deepseek::model {

// What happens to a pooled entry after its norm and RoPE: the main KV cache fake-quantises
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

// Feeds one sequence's rows (ctx.Rows), starting at row `first` of `in`, to its compressor;
// appends each entry that completes to `out` (entry b covers positions b·ratio .. b·ratio +
// ratio − 1).
void Compress(const ChunkContext& ctx, int layer, const CompressorWeights& w, std::span<const float> freqs, EntryQuant quant,
              const CompressorInputs& in, int64_t first, CompressorState& state, KvTable& out);

}  // namespace deepseek::model

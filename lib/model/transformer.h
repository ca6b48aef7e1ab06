// The V4-family model: immutable config + weights (bound to the memory-mapped checkpoint) and
// the forward pass over a chunk of tokens against a per-sequence state. V4.1 adds Engram before
// some blocks, single-pass mHC (each site collapses with the previous site's pre) and image spans
// whose embeddings are given rather than looked up.
#pragma once

#include <atomic>
#include <memory>
#include <span>
#include <vector>

#include "backends/backend.h"
#include "core/scratch_stack.h"
#include "format/checkpoint.h"
#include "model/engram_hash.h"
#include "model/observer.h"
#include "model/rope.h"
#include "model/state.h"
#include "model/weights.h"

namespace deepseek::model {

// Rows of a chunk whose embeddings are given instead of looked up: an image span (spec §8.12,
// the aligner's rows and the learned delimiters). Its tokens must be the image token.
struct GivenEmbeddings {
  int64_t first_row = 0;  // in the chunk
  int64_t rows = 0;
  const float* values = nullptr;  // [rows, D] (bf16 values)
};

class Transformer {
 public:
  // Takes ownership of the checkpoint, whose mapped bytes the weights point into. A V4.1 model
  // with Engram needs the compressed token map ([vocab]: each id's compressed id, see
  // tokenizer/engram_token_map.h); throws Error(kInvalidArgument) when it is missing or does not
  // fit the config.
  Transformer(ModelConfig config, std::unique_ptr<format::Checkpoint> checkpoint, std::vector<int32_t> engram_token_map = {});

  const ModelConfig& config() const { return config_; }
  const format::Checkpoint& checkpoint() const { return *checkpoint_; }

  // Values per row of what Forward hands to Logits: V4's final streams (n · D), V4.1's streams
  // collapsed with the last site's pre (D).
  int64_t hidden_width() const;

  // Runs `tokens` (ids already validated) through the main layers at state.position(), appends
  // them to state.tokens and advances the state. `hidden` receives the final rows [S,
  // hidden_width()]. `given` rows take their embeddings from there (V4.1 image spans). The
  // activations take their memory from `scratch` (the calling thread's, kept between calls so
  // that every chunk reuses the pages of the one before); row-wise host work of a prefill runs
  // on `pool` (the threads of the stream).
  void Forward(backend::Stream& stream, ThreadPool& pool, ScratchStack& scratch, ForwardObserver* observer, SequenceState& state,
               std::span<const int32_t> tokens, std::vector<float>& hidden, std::span<const GivenEmbeddings> given = {}) const;
  // The same for several sequences in one pass, each weight read once for all of them:
  // sequence g (states[g]) takes the next counts[g] of `tokens`. Each sequence's rows come out
  // as they would alone (the kernels sum every row in the same order whatever the batch).
  void Forward(backend::Stream& stream, ThreadPool& pool, ScratchStack& scratch, ForwardObserver* observer, std::span<SequenceState* const> states,
               std::span<const int32_t> tokens, std::span<const int64_t> counts, std::vector<float>& hidden,
               std::span<const GivenEmbeddings> given = {}) const;

  // logits [rows, vocab] (fp32) from Forward's rows [rows, hidden_width()].
  void Logits(backend::Stream& stream, const float* hidden, int64_t rows, float* logits) const;

  bool has_mtp() const { return !weights_.mtp.empty(); }

  // Table bytes the Engram layers have read (rows and their scales), over all calls.
  uint64_t engram_bytes_read() const { return engram_bytes_.load(std::memory_order_relaxed); }

  // Runs MTP block `index` over the positions whose next token is now known: for position p
  // the input is the main model's final streams at p and the embedding of token p + 1, where
  // the token after the last consumed position is `next_token`. Writes the logits of the last
  // position ([vocab], predicting the token after next_token).
  void Mtp(backend::Stream& stream, ThreadPool& pool, ScratchStack& scratch, ForwardObserver* observer, SequenceState& state,
           std::span<const float> pending_streams, int64_t first_pos, std::span<const int32_t> next_tokens,
           float* logits) const;

 private:
  void Block(const struct ChunkContext& ctx, const BlockWeights& w, std::span<SequenceState* const> states,
             float* streams, std::vector<float>& carried_pre) const;
  struct MhcMix Site(const struct ChunkContext& ctx, const MhcWeights& w, const float* streams,
                     std::vector<float>& carried_pre, float* u) const;
  std::vector<int64_t> EngramRowsOf(const struct ChunkContext& ctx, size_t index, std::span<SequenceState* const> states) const;
  void Embed(std::span<const int32_t> tokens, float* rows) const;

  ModelConfig config_;
  std::unique_ptr<format::Checkpoint> checkpoint_;
  ModelWeights weights_;
  RopeTables rope_;
  std::vector<int32_t> engram_token_map_;     // V4.1: [vocab] compressed ids
  std::vector<EngramLayerHash> engram_hashes_;  // V4.1: per Engram layer
  mutable std::atomic<uint64_t> engram_bytes_{0};
};

}  // namespace deepseek::model

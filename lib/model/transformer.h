// The V4 model: immutable config + weights (bound to the memory-mapped checkpoint) and the
// forward pass over a chunk of tokens against a per-sequence state.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "backends/backend.h"
#include "format/checkpoint.h"
#include "model/observer.h"
#include "model/rope.h"
#include "model/state.h"
#include "model/weights.h"

namespace deepseek::model {

class Transformer {
 public:
  // Takes ownership of the checkpoint, whose mapped bytes the weights point into.
  Transformer(ModelConfig config, std::unique_ptr<format::Checkpoint> checkpoint);

  const ModelConfig& config() const { return config_; }
  const format::Checkpoint& checkpoint() const { return *checkpoint_; }

  // Runs `tokens` (ids already validated) through the main layers at state.position() and
  // advances the state. `streams` receives the final hyper-connection streams [S, n, D].
  void Forward(backend::Stream& stream, ForwardObserver* observer, SequenceState& state,
               std::span<const int32_t> tokens, std::vector<float>& streams) const;
  // The same for several sequences in one pass, each weight read once for all of them:
  // sequence g (states[g]) takes the next counts[g] of `tokens`. Each sequence's rows come out
  // as they would alone (the kernels sum every row in the same order whatever the batch).
  void Forward(backend::Stream& stream, ForwardObserver* observer, std::span<SequenceState* const> states,
               std::span<const int32_t> tokens, std::span<const int64_t> counts, std::vector<float>& streams) const;

  // logits [rows, vocab] (fp32) from final streams [rows, n, D].
  void Logits(backend::Stream& stream, const float* streams, int64_t rows, float* logits) const;

  // Runs MTP block `index` over the positions whose next token is now known: for position p
  // the input is the main model's final streams at p and the embedding of token p + 1, where
  // the token after the last consumed position is `next_token`. Writes the logits of the last
  // position ([vocab], predicting the token after next_token).
  void Mtp(backend::Stream& stream, ForwardObserver* observer, SequenceState& state,
           std::span<const float> pending_streams, int64_t first_pos, std::span<const int32_t> next_tokens,
           float* logits) const;

 private:
  void Block(const struct ChunkContext& ctx, const BlockWeights& w, std::span<LayerState* const> states,
             float* streams) const;
  void Embed(std::span<const int32_t> tokens, float* rows) const;

  ModelConfig config_;
  std::unique_ptr<format::Checkpoint> checkpoint_;
  ModelWeights weights_;
  RopeTables rope_;
};

}  // namespace deepseek::model

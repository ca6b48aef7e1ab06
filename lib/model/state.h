// Per-sequence inference state, kept apart from the immutable model so one loaded model can
// serve many sequences: per layer the sliding-window ring, the compressed caches and the
// indexer keys (block tables into the KV memory's pools, see kv_pools.h), and the open-block
// compressor state (fp32, as in the reference).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "deepseek/config.h"
#include "model/kv_pools.h"
#include "model/kv_table.h"

namespace deepseek::model {

// The open blocks of one compressor: the projected rows a_p (kv) and gate scores z_p + ape of
// the tokens seen since the last emission; for overlapping compressors also the previous block.
// Layout [coff·ratio, coff·width]: rows [0, ratio) previous block, [ratio, 2·ratio) current one
// (overlap); rows [0, ratio) current block otherwise.
struct CompressorState {
  std::vector<float> kv;
  std::vector<float> score;  // −inf where no token has been seen
  void Reset(int ratio, int width, bool overlap);
};

// The ring slots (slot = position mod `ring`) of positions [first, end), end − first ≤ ring, as
// runs of consecutive slots — the ring wraps at most once: fn(slot, position, count) per run.
template <typename Fn>
void ForEachRingRun(int64_t first, int64_t end, int64_t ring, Fn&& fn) {
  for (int64_t p = first; p < end;) {
    const int64_t slot = p % ring, run = std::min(end - p, ring - slot);
    fn(slot, p, run);
    p += run;
  }
}

struct LayerState {
  KvTable window;      // [window, head_dim] ring: slot p mod window holds position p
  KvTable compressed;  // [entries, head_dim] compressed KV (ratio > 0)
  KvTable index_keys;  // [entries, index_head_dim] indexer keys (ratio 4)
  CompressorState compressor;
  CompressorState index_compressor;
};

// Copyable: a copy is a snapshot of the sequence that shares the caches' pages (O(pages)) and
// can later be restored (prefix reuse).
class SequenceState {
 public:
  SequenceState(const ModelConfig& config, std::shared_ptr<const KvPools> pools);
  void Reset();

  const ModelConfig& config() const { return *config_; }
  const KvPools& pools() const { return *pools_; }
  int64_t position() const { return position_; }  // tokens consumed by the main model
  void Advance(int64_t n) { position_ += n; }

  LayerState& layer(int i) { return layers_[static_cast<size_t>(i)]; }
  const LayerState& layer(int i) const { return layers_[static_cast<size_t>(i)]; }
  LayerState& mtp_layer(int i) { return layers_[static_cast<size_t>(config_->n_layers + i)]; }

  // Makes room in the caches for the main model's next `tokens` tokens (and, with `mtp`, the MTP
  // layers' as many), so that running them allocates nothing: every page they will write is
  // there and private. On Error(kResourceExhausted) nothing observable has changed (pages got
  // so far are given back).
  void Reserve(int64_t tokens, bool mtp);
  // Pool bytes the caches hold (pages shared with other sequences included).
  uint64_t kv_bytes() const;
  // Appends `tokens` positions of random ids whose cache rows are random values on the packed
  // formats' grids, written straight into the pools without running the model (benchmarks of
  // attention at depth: a real 1M-token prefill takes hours). The compressors' open blocks
  // start empty after it; the MTP layers are not filled. Reserves first (see Reserve).
  void AppendSynthetic(int64_t tokens, uint64_t seed, backend::Stream& stream);
  // Whether the token at `position` closes a compressor block of some main layer.
  bool ClosesBlock(int64_t position) const;
  // Forgets the last token consumed (speculative decoding's rejected draft). Exact only for a
  // token that closed no compressor block: its window slot and open-block rows stay as they
  // are, to be rewritten by the next token at its position, and no query at that position or
  // later reads the window row it replaced. Its pending MTP streams go too. Throws
  // Error(kFailedPrecondition) for a token that closed a block or that the MTP head has read.
  void DropLast();
  // Keeps the pending MTP streams of the last `keep` positions only (keep ≥ the window): the
  // MTP layer attends no further back, and its ring row of a position depends on that position
  // alone, so the head's logits at the last position need no others. The MTP layers' ring rows
  // of the skipped positions are zeros (read only by the head's queries at earlier pending
  // positions, whose outputs are not used). The MTP layers must be reserved (Reserve with mtp).
  void TrimMtpPending(int64_t keep, backend::Stream& stream);
  // This sequence with its caches' rows copied into `pools` (of another KV memory).
  SequenceState CopyTo(std::shared_ptr<const KvPools> pools, backend::Stream& stream) const;

  // MTP lags the main model: it needs the token after each position. The main model's final
  // streams of positions [mtp_position, position) wait here until their next tokens are known.
  int64_t mtp_position = 0;
  std::vector<float> mtp_pending_streams;  // [position − mtp_position, hc_mult, dim]
  std::vector<int32_t> tokens;             // every token consumed, in order

 private:
  const ModelConfig* config_;  // the model's, which outlives every state
  std::shared_ptr<const KvPools> pools_;
  int64_t position_ = 0;
  std::vector<LayerState> layers_;  // main layers, then MTP layers
};

}  // namespace deepseek::model

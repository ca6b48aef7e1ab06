// Per-sequence inference state, kept apart from the immutable model so one loaded model can
// serve many sequences: per layer the sliding-window ring, the compressed caches, the indexer
// keys and the open-block compressor state. Values are bf16 numbers held as float.
#pragma once

#include <cstdint>
#include <vector>

#include "deepseek/config.h"

namespace deepseek::model {

// Rows of a fixed width appended over time (compressed KV entries, indexer keys).
class RowCache {
 public:
  explicit RowCache(int width) : width_(width) {}
  int width() const { return width_; }
  int64_t rows() const { return width_ ? static_cast<int64_t>(data_.size()) / width_ : 0; }
  const float* row(int64_t i) const { return data_.data() + i * width_; }
  float* Append();  // a new zeroed row at the end
  const std::vector<float>& data() const { return data_; }

 private:
  int width_;
  std::vector<float> data_;
};

// The open blocks of one compressor: the projected rows a_p (kv) and gate scores z_p + ape of
// the tokens seen since the last emission; for overlapping compressors also the previous block.
// Layout [coff·ratio, coff·width]: rows [0, ratio) previous block, [ratio, 2·ratio) current one
// (overlap); rows [0, ratio) current block otherwise.
struct CompressorState {
  std::vector<float> kv;
  std::vector<float> score;  // −inf where no token has been seen
  void Reset(int ratio, int width, bool overlap);
};

struct LayerState {
  std::vector<float> window;  // [window, head_dim] ring: slot p mod window holds position p
  RowCache compressed{0};     // [entries, head_dim] compressed KV (ratio > 0)
  RowCache index_keys{0};     // [entries, index_head_dim] indexer keys (ratio 4)
  CompressorState compressor;
  CompressorState index_compressor;
};

// Copyable: a copy is a snapshot of the sequence that can later be restored (prefix reuse).
class SequenceState {
 public:
  explicit SequenceState(const ModelConfig& config);
  void Reset();

  const ModelConfig& config() const { return *config_; }
  int64_t position() const { return position_; }  // tokens consumed by the main model
  void Advance(int64_t n) { position_ += n; }

  LayerState& layer(int i) { return layers_[static_cast<size_t>(i)]; }
  const LayerState& layer(int i) const { return layers_[static_cast<size_t>(i)]; }
  LayerState& mtp_layer(int i) { return layers_[static_cast<size_t>(config_->n_layers + i)]; }

  // MTP lags the main model: it needs the token after each position. The main model's final
  // streams of positions [mtp_position, position) wait here until their next tokens are known.
  int64_t mtp_position = 0;
  std::vector<float> mtp_pending_streams;  // [position − mtp_position, hc_mult, dim]
  std::vector<int32_t> tokens;             // every token consumed, in order

 private:
  const ModelConfig* config_;  // the model's, which outlives every state
  int64_t position_ = 0;
  std::vector<LayerState> layers_;  // main layers, then MTP layers
};

}  // namespace deepseek::model

#include "model/state.h"

#include <limits>

namespace deepseek::model {

float* RowCache::Append() {
  data_.resize(data_.size() + static_cast<size_t>(width_), 0.0f);
  return data_.data() + data_.size() - static_cast<size_t>(width_);
}

void CompressorState::Reset(int ratio, int width, bool overlap) {
  const int coff = overlap ? 2 : 1;
  const size_t n = static_cast<size_t>(coff * ratio) * static_cast<size_t>(coff * width);
  kv.assign(n, 0.0f);
  score.assign(n, -std::numeric_limits<float>::infinity());
}

SequenceState::SequenceState(const ModelConfig& config) : config_(&config) { Reset(); }

void SequenceState::Reset() {
  const ModelConfig& c = *config_;
  position_ = 0;
  mtp_position = 0;
  mtp_pending_streams.clear();
  tokens.clear();
  layers_.assign(static_cast<size_t>(c.n_layers + c.n_mtp_layers), LayerState{});
  for (int i = 0; i < c.n_layers + c.n_mtp_layers; ++i) {
    LayerState& l = layers_[static_cast<size_t>(i)];
    const int ratio = c.ratio(i);
    l.window.assign(static_cast<size_t>(c.window) * static_cast<size_t>(c.head_dim), 0.0f);
    l.compressed = RowCache(c.head_dim);
    l.index_keys = RowCache(c.index_head_dim);
    if (ratio > 0) l.compressor.Reset(ratio, c.head_dim, ratio == 4);
    if (ratio == 4) l.index_compressor.Reset(ratio, c.index_head_dim, true);
  }
}

}  // namespace deepseek::model

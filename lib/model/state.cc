#include "model/state.h"

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace deepseek::model {

void CompressorState::Reset(int ratio, int width, bool overlap) {
  const int coff = overlap ? 2 : 1;
  const size_t n = static_cast<size_t>(coff * ratio) * static_cast<size_t>(coff * width);
  kv.assign(n, 0.0f);
  score.assign(n, -std::numeric_limits<float>::infinity());
}

SequenceState::SequenceState(const ModelConfig& config, std::shared_ptr<const KvPools> pools)
    : config_(&config), pools_(std::move(pools)) {
  Reset();
}

void SequenceState::Reset() {
  const ModelConfig& c = *config_;
  backend::KvMemory* memory = pools_->memory.get();
  position_ = 0;
  mtp_position = 0;
  mtp_pending_streams.clear();
  tokens.clear();
  layers_.clear();
  layers_.resize(static_cast<size_t>(c.n_layers + c.n_mtp_layers));
  for (int i = 0; i < c.n_layers + c.n_mtp_layers; ++i) {
    LayerState& l = layers_[static_cast<size_t>(i)];
    const int ratio = c.ratio(i);
    l.window = KvTable(memory, pools_->window);
    if (ratio > 0) {
      l.compressed = KvTable(memory, pools_->compressed.at(ratio));
      l.compressor.Reset(ratio, c.head_dim, ratio == 4);
    }
    if (ratio == 4) {
      l.index_keys = KvTable(memory, pools_->index_keys);
      l.index_compressor.Reset(ratio, c.index_head_dim, true);
    }
  }
}

void SequenceState::Reserve(int64_t tokens, bool mtp) {
  const ModelConfig& c = *config_;
  try {
    for (int i = 0; i < c.n_layers + (mtp ? c.n_mtp_layers : 0); ++i) {
      LayerState& l = layers_[static_cast<size_t>(i)];
      const int64_t end = (i < c.n_layers ? position_ : mtp_position) + tokens;
      l.window.Reserve(0, std::min<int64_t>(end, c.window));
      const int ratio = c.ratio(i);
      if (ratio == 0) continue;
      l.compressed.Reserve(l.compressed.rows(), end / ratio);
      if (ratio == 4) l.index_keys.Reserve(l.index_keys.rows(), end / ratio);
    }
  } catch (const Error&) {
    // Pages added for rows not written yet go back; pages replaced by private copies stay
    // (their rows are the same).
    for (LayerState& l : layers_) {
      for (KvTable* t : {&l.window, &l.compressed, &l.index_keys}) {
        if (t->memory()) t->Trim();
      }
    }
    throw;
  }
}

SequenceState SequenceState::CopyTo(std::shared_ptr<const KvPools> pools, backend::Stream& stream) const {
  SequenceState copy(*config_, std::move(pools));
  copy.position_ = position_;
  copy.mtp_position = mtp_position;
  copy.mtp_pending_streams = mtp_pending_streams;
  copy.tokens = tokens;
  std::vector<float> rows;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const LayerState& from = layers_[i];
    LayerState& to = copy.layers_[i];
    to.compressor = from.compressor;
    to.index_compressor = from.index_compressor;
    for (auto [src, dst] : {std::pair{&from.window, &to.window}, std::pair{&from.compressed, &to.compressed},
                            std::pair{&from.index_keys, &to.index_keys}}) {
      if (!src->memory() || src->rows() == 0) continue;
      rows.resize(static_cast<size_t>(src->rows() * src->dim()));
      src->Read(stream, 0, src->rows(), rows.data());  // unpacking and packing again is exact
      dst->Write(stream, 0, src->rows(), rows.data());
    }
  }
  return copy;
}

uint64_t SequenceState::kv_bytes() const {
  uint64_t bytes = 0;
  for (const LayerState& l : layers_) {
    for (const KvTable* t : {&l.window, &l.compressed, &l.index_keys}) {
      if (t->memory()) bytes += t->bytes();
    }
  }
  return bytes;
}

}  // namespace deepseek::model

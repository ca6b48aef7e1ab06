#include "model/state.h"

#include <algorithm>
#include <limits>
#include <random>

#include "core/error.h"
#include "core/numerics.h"

namespace deepseek::model {

void CompressorState::Reset(int ratio, int width, bool overlap) {
  const int coff = overlap ? 2 : 1;
  const size_t n = static_cast<size_t>(coff * ratio) * static_cast<size_t>(coff * width);
  kv.assign(n, 0.0f);
  score.assign(n, -std::numeric_limits<float>::infinity());
}

namespace {

// The open blocks of layer i's compressors (it owns a cache): V4 pools ratio tokens (ratio 4
// with overlapping windows, and an indexer compressor beside it); V4.1 pools without overlap,
// and its ratio-1 layers keep no open block.
void ResetCompressor(const ModelConfig& c, int i, LayerState& l) {
  const int ratio = c.ratio(i);
  if (c.family == ModelFamily::kV41) {
    if (ratio > 1) l.compressor.Reset(ratio, c.head_dim, false);
    return;
  }
  l.compressor.Reset(ratio, c.head_dim, ratio == 4);
  if (ratio == 4) l.index_compressor.Reset(ratio, c.index_head_dim, true);
}

}  // namespace

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
    l.window = KvTable(memory, pools_->window);
    if (OwnsCache(pools_->layers, i)) {
      l.compressed = KvTable(memory, pools_->compressed.at(c.ratio(i)));
      ResetCompressor(c, i, l);
    }
    if (pools_->layers[static_cast<size_t>(i)].owns_index_keys) l.index_keys = KvTable(memory, pools_->index_keys);
  }
}

void SequenceState::Reserve(int64_t tokens, bool mtp) {
  const ModelConfig& c = *config_;
  try {
    for (int i = 0; i < c.n_layers + (mtp ? c.n_mtp_layers : 0); ++i) {
      LayerState& l = layers_[static_cast<size_t>(i)];
      const int64_t end = (i < c.n_layers ? position_ : mtp_position) + tokens;
      l.window.Reserve(0, std::min<int64_t>(end, c.window));
      if (!OwnsCache(pools_->layers, i)) continue;
      const int ratio = c.ratio(i);
      l.compressed.Reserve(l.compressed.rows(), end / ratio);
      if (l.index_keys.memory()) l.index_keys.Reserve(l.index_keys.rows(), end / ratio);
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

namespace {

// `count` random rows of `layout` on its grid (V4 latents: FP8 blocks of 64 and bf16 RoPE dims;
// V4.1's FP8 per 32 and NVFP4; MXFP4 keys), from which synthetic caches are cycled.
std::vector<float> RandomGridRows(const backend::KvRowLayout& layout, int count, std::mt19937_64& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> rows(static_cast<size_t>(count) * static_cast<size_t>(layout.dim));
  for (float& v : rows) v = normal(rng);
  for (int r = 0; r < count; ++r) {
    float* row = rows.data() + static_cast<size_t>(r) * static_cast<size_t>(layout.dim);
    switch (layout.format) {
      case backend::KvRowFormat::kMxfp4:
        for (int b = 0; b < layout.dim; b += 32) num::FakeQuantFp4Block(row + b, 32);
        break;
      case backend::KvRowFormat::kNvfp4:
        for (int b = 0; b < layout.dim; b += 16) num::FakeQuantNvfp4Block(row + b, 16);
        break;
      case backend::KvRowFormat::kFp8Per32:
        for (int b = 0; b < layout.dim; b += 32) num::FakeQuantFp8Block(row + b, 32);
        break;
      default:
        for (int b = 0; b < layout.dim - layout.rope_dim; b += 64) num::FakeQuantFp8Block(row + b, 64);
        for (int i = layout.dim - layout.rope_dim; i < layout.dim; ++i) row[i] = num::RoundBf16(row[i]);
    }
  }
  return rows;
}

// Writes rows [first, end) of `table` from `source` (cycled; its rows shuffled by `rng`).
void WriteCycled(KvTable& table, int64_t first, int64_t end, const std::vector<float>& source, std::mt19937_64& rng,
                 backend::Stream& stream) {
  const int64_t dim = table.dim(), count = static_cast<int64_t>(source.size()) / dim;
  constexpr int64_t kBatch = 1024;
  std::vector<float> batch;
  for (int64_t r = first; r < end; r += kBatch) {
    const int64_t n = std::min(kBatch, end - r);
    batch.resize(static_cast<size_t>(n * dim));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t pick = static_cast<int64_t>(rng() % static_cast<uint64_t>(count));
      std::copy_n(source.begin() + pick * dim, dim, batch.begin() + i * dim);
    }
    table.Write(stream, r, n, batch.data());
  }
}

}  // namespace

void SequenceState::AppendSynthetic(int64_t tokens, uint64_t seed, backend::Stream& stream) {
  if (tokens <= 0) return;
  Reserve(tokens, false);
  const ModelConfig& c = *config_;
  std::mt19937_64 rng(seed);
  const std::vector<float> latents = RandomGridRows(pools_->memory->pool(pools_->window).row, 1024, rng);
  std::vector<float> compressed;
  if (!pools_->compressed.empty()) compressed = RandomGridRows(pools_->memory->pool(pools_->compressed.begin()->second).row, 1024, rng);
  std::vector<float> keys;
  if (pools_->index_keys >= 0) keys = RandomGridRows(pools_->memory->pool(pools_->index_keys).row, 1024, rng);
  const int64_t end = position_ + tokens;
  for (int i = 0; i < c.n_layers; ++i) {
    LayerState& l = layers_[static_cast<size_t>(i)];
    ForEachRingRun(std::max(position_, end - c.window), end, c.window, [&](int64_t slot, int64_t, int64_t n) {
      WriteCycled(l.window, slot, slot + n, latents, rng, stream);
    });
    if (!OwnsCache(pools_->layers, i)) continue;
    const int ratio = c.ratio(i);
    WriteCycled(l.compressed, l.compressed.rows(), end / ratio, compressed, rng, stream);
    if (l.index_keys.memory()) WriteCycled(l.index_keys, l.index_keys.rows(), end / ratio, keys, rng, stream);
    ResetCompressor(c, i, l);
  }
  for (int64_t t = 0; t < tokens; ++t) this->tokens.push_back(static_cast<int32_t>(rng() % static_cast<uint64_t>(c.vocab_size)));
  position_ = end;
  mtp_position = end;
  mtp_pending_streams.clear();
}

bool SequenceState::ClosesBlock(int64_t position) const {
  for (int i = 0; i < config_->n_layers; ++i) {
    if (OwnsCache(pools_->layers, i) && (position + 1) % config_->ratio(i) == 0) return true;
  }
  return false;
}

void SequenceState::DropLast() {
  const ModelConfig& c = *config_;
  if (position_ == 0) Fail(StatusCode::kFailedPrecondition, "DropLast: the sequence is empty");
  const int64_t last = position_ - 1;
  if (ClosesBlock(last)) {
    Fail(StatusCode::kFailedPrecondition, "DropLast: the token at position " + std::to_string(last) + " closed a compressor block");
  }
  if (mtp_position > last) {
    Fail(StatusCode::kFailedPrecondition, "DropLast: the MTP head has read position " + std::to_string(last));
  }
  position_ = last;
  tokens.pop_back();
  const size_t row = static_cast<size_t>(c.hc_mult) * static_cast<size_t>(c.dim);
  if (mtp_pending_streams.size() >= row) mtp_pending_streams.resize(mtp_pending_streams.size() - row);
  for (int i = 0; i < c.n_layers; ++i) layers_[static_cast<size_t>(i)].window.Truncate(std::min<int64_t>(position_, c.window));
}

void SequenceState::TrimMtpPending(int64_t keep, backend::Stream& stream) {
  const ModelConfig& c = *config_;
  const auto row = static_cast<int64_t>(c.hc_mult) * c.dim;
  const int64_t skip = static_cast<int64_t>(mtp_pending_streams.size()) / row - keep;
  if (skip <= 0) return;
  mtp_pending_streams.erase(mtp_pending_streams.begin(), mtp_pending_streams.begin() + skip * row);
  mtp_position += skip;
  const int64_t need = std::min<int64_t>(mtp_position, c.window);
  for (int i = 0; i < c.n_mtp_layers; ++i) {
    KvTable& ring = mtp_layer(i).window;
    if (ring.rows() >= need) continue;
    const std::vector<float> zeros(static_cast<size_t>((need - ring.rows()) * ring.dim()), 0.0f);
    ring.Write(stream, ring.rows(), need - ring.rows(), zeros.data());
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

// The KV pools of a V4-family model in one KV memory, and what a sequence occupies in them.
//
// Pools by kind of row (spec §6, §8.9): "window" (each layer's ring of `window` latents: one
// page of `window` rows per layer and sequence), "compressed_r<m>" (the compressed latents of
// the ratio-m layers that own a cache, see layer_kv.h) and "index_keys" (the indexer keys).
// V4 packs latents in 584-byte rows (FP8 + bf16 RoPE dims); V4.1 packs window rows FP8 per 32
// (528 bytes) and compressed rows NVFP4 (288 bytes); indexer keys are 68-byte MXFP4 rows. The
// open-block compressor state stays fp32 in the sequence state, as in the reference. Compressed
// pages hold 64 rows: 256 tokens of a ratio-4 layer, 8192 of a ratio-128 one.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "backends/backend.h"
#include "deepseek/config.h"
#include "model/layer_kv.h"

namespace deepseek::model {

inline constexpr int kCompressedRowsPerPage = 64;

// The pool each layer's caches use. Holds the memory, so sequences that hold these pools keep
// their pages' memory alive.
struct KvPools {
  std::shared_ptr<backend::KvMemory> memory;
  backend::KvPoolId window = -1;
  std::map<int, backend::KvPoolId> compressed;  // by compress ratio
  backend::KvPoolId index_keys = -1;            // -1 when no layer has an indexer
  std::vector<LayerKv> layers;                  // which caches each layer owns and reads
};

// Adds the pools `config` needs (for the ratios it uses) to `memory`.
std::shared_ptr<const KvPools> CreateKvPools(const ModelConfig& config, std::shared_ptr<backend::KvMemory> memory);

// Pool bytes one sequence of `tokens` tokens holds (whole pages; the MTP layers' too with `mtp`).
uint64_t KvSequenceBytes(const ModelConfig& config, int64_t tokens, bool mtp);
// The largest token count whose KvSequenceBytes fits in `bytes` (0 when not even one fits).
int64_t KvTokensForBytes(const ModelConfig& config, uint64_t bytes, bool mtp);
// Packed bytes per token once the window is full, amortised over the compressed rows: the
// spec's §6.3 figure (3,514 for V4-Flash) and §8.9 figure (890 for V4.1-Flash).
double KvBytesPerToken(const ModelConfig& config);

}  // namespace deepseek::model

// The weights of a V4 model, described in one place: every tensor with its checkpoint name,
// dtype and shape. Weights stay in their stored formats (FP8 + block scales, MXFP4, BF16, F32)
// and point into the memory-mapped checkpoint; nothing is expanded to fp32.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "backends/backend.h"
#include "deepseek/config.h"
#include "format/checkpoint.h"

namespace deepseek::model {

using backend::WeightMatrix;

// A small weight vector stored as BF16 or F32 (norm weights, sinks, biases, hc parameters).
struct WeightVector {
  const void* data = nullptr;
  int64_t size = 0;
  bool bf16 = false;
  float operator[](int64_t i) const;
  std::vector<float> ToFloat() const;  // for small vectors only
};

struct MhcWeights {        // one hyper-connection site; n = hc_mult
  WeightMatrix fn;         // F32 [(2+n)·n, n·D]
  WeightVector base;       // F32 [(2+n)·n]
  WeightVector scale;      // F32 [3]
};

struct MhcHeadWeights {    // the final stream collapse
  WeightMatrix fn;         // F32 [n, n·D]
  WeightVector base;       // F32 [n]
  WeightVector scale;      // F32 [1]
};

struct CompressorWeights { // gated pooling of `ratio` tokens into one entry of width w
  int ratio = 0;
  int width = 0;           // 512 (main) or index_head_dim (indexer)
  bool overlap = false;    // ratio 4: windows of 2·ratio tokens, coff = 2
  WeightMatrix wkv;        // BF16 [coff·w, D]
  WeightMatrix wgate;      // BF16 [coff·w, D]; absent in V4.1's ratio-1 compressors
  WeightVector ape;        // F32 [ratio, coff·w]; absent in V4.1
  WeightVector norm;       // BF16 [w]
  int coff() const { return overlap ? 2 : 1; }
  bool gated() const { return wgate.data != nullptr; }
};

struct IndexerWeights {    // the indexer's queries: CSA layers (V4), index sources (V4.1)
  WeightMatrix wq_b;         // FP8 [index_heads·index_head_dim, q_lora]
  WeightMatrix weights_proj; // BF16 [index_heads, D]
  CompressorWeights compressor;  // V4: the indexer's own compressor of its keys; absent in V4.1
};

struct IndexKeyWeights {   // V4.1 KV sources: index keys k_norm(wk · latent) of their entries
  WeightMatrix wk;         // BF16 [index_head_dim, head_dim]
  WeightVector k_norm;     // BF16 [index_head_dim]
};

// One layer's attention. Which parts it has follows layer_kv.h: the compressor where the layer
// owns a compressed cache, the indexer where it selects entries (and in V4.1 the index keys on
// KV sources).
struct AttentionWeights {
  WeightVector sink;       // F32 [H]
  WeightMatrix wq_a;       // FP8 [q_lora, D]
  WeightVector q_norm;     // BF16 [q_lora]
  WeightMatrix wq_b;       // FP8 [H·head_dim, q_lora]
  WeightMatrix wkv;        // FP8 [head_dim, D]
  WeightVector kv_norm;    // BF16 [head_dim]
  WeightMatrix wo_a;       // FP8 [G·o_lora, H·head_dim/G] (o_lora a multiple of the FP8 block)
  WeightMatrix wo_b;       // FP8 [D, G·o_lora]
  bool has_compressor = false;
  CompressorWeights compressor;
  bool has_indexer = false;
  IndexerWeights indexer;
  bool has_index_keys = false;  // V4.1 KV sources
  IndexKeyWeights index_keys;
};

// SwiGLU expert: w1 = gate, w3 = up [inter, D], w2 = down [D, inter]; MXFP4 routed, FP8 shared.
using ExpertWeights = backend::ExpertMatrices;

struct MoeWeights {
  WeightMatrix gate;                 // BF16 [E, D]
  std::vector<float> bias;           // F32 [E], copied at load (score-routed layers; empty for hash layers)
  std::vector<float> bias_vl;        // F32 [E]: V4.1 with vision, the bias of image-span tokens
  const void* tid2eid = nullptr;     // I64 [vocab, k] (hash layers only), read with LoadUnaligned
  std::vector<ExpertWeights> experts;
  ExpertWeights shared;
};

struct BlockWeights {
  int layer = 0;
  WeightVector attn_norm;  // BF16 [D]
  WeightVector ffn_norm;   // BF16 [D]
  MhcWeights hc_attn, hc_ffn;
  AttentionWeights attn;
  MoeWeights ffn;
};

struct MtpWeights {        // multi-token prediction block (mtp.i)
  WeightMatrix e_proj;     // FP8 [D, D]
  WeightMatrix h_proj;     // FP8 [D, D]
  WeightVector enorm, hnorm, norm;  // BF16 [D]
  MhcHeadWeights hc_head;
  BlockWeights block;
};

// V4.1's Engram at one layer (spec §8.4): the n-gram table stays in the mapped checkpoint (FP8
// rows, read a few rows per token, so a table of hundreds of GB need not be resident), then the
// projection of the gathered rows into one key per stream and a shared value, and the gate.
struct EngramWeights {
  int layer = 0;
  const uint8_t* table = nullptr;         // F8_E4M3 [rows, head_dim]: embed.weight
  const uint8_t* table_scales = nullptr;  // F8_E8M0 [rows, head_dim / 32]: embed.scale, checked per row read
  int64_t rows = 0;
  int head_dim = 0;
  WeightMatrix wkv;                       // FP8 [(hc + 1)·D, (max_ngram − 1)·heads·head_dim]
  WeightVector q_weight, k_weight;        // BF16 [hc, D]
};

struct ModelWeights {
  const void* embed = nullptr;      // BF16 [vocab, D], read with LoadUnaligned
  WeightMatrix head;                // BF16 [vocab, D]
  WeightVector norm;                // BF16 [D]
  MhcHeadWeights hc_head;           // V4 only (V4.1 collapses with the last site's pre)
  std::vector<BlockWeights> layers;
  std::vector<MtpWeights> mtp;      // V4 only (V4.1's DSpark stages are not run)
  std::vector<EngramWeights> engram;  // V4.1: one per config.engram.layer_ids entry
};

// Binds every tensor of `config` in `ckpt`, checking dtype and shape; throws Error naming the
// tensor and file on any mismatch. The checkpoint must outlive the returned weights.
ModelWeights BindWeights(const ModelConfig& config, const format::Checkpoint& ckpt);

// The V4.1 vision tower and aligner (vision.*, aligner.*), checked likewise; biases and norm
// weights are copied to fp32. Throws Error(kInvalidConfig) when the config has no vision tower.
backend::VisionEncoderDesc BindVision(const ModelConfig& config, const format::Checkpoint& ckpt);

// The learned vectors of an image span's delimiters (image_start, image_newline, image_end).
struct ImageDelimiters {
  std::vector<float> start, newline, end;  // [D] each
};
ImageDelimiters BindImageDelimiters(const ModelConfig& config, const format::Checkpoint& ckpt);

// One block's hyper-connection sites and sublayer norms (attn_norm, ffn_norm, hc_attn, hc_ffn),
// checked likewise: the parts of a block both families share.
struct BlockMixing {
  WeightVector attn_norm, ffn_norm;  // BF16 [D]
  MhcWeights hc_attn, hc_ffn;
};
BlockMixing BindBlockMixing(const ModelConfig& config, const format::Checkpoint& ckpt, int layer);

// One layer's MoE (router, experts, shared expert), checked likewise.
MoeWeights BindMoeLayer(const ModelConfig& config, const format::Checkpoint& ckpt, int layer);

// The Engram tensors of layer `layer` (one of config.engram.layer_ids), checked likewise.
EngramWeights BindEngram(const ModelConfig& config, const format::Checkpoint& ckpt, int layer);

}  // namespace deepseek::model

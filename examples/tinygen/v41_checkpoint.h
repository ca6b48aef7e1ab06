// Generates seeded random DeepSeek V4.1 checkpoints with a vision tower, in the layout of the
// golden tiny V4.1 checkpoints (shared/golden/v41/*/ckpt): the composite config.json, dense FP8
// with 32x32 blocks, MXFP4 routed experts, Engram tables, the ViT and aligner, and a tokenizer
// holding V4.1's tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tinygen/progress.h"
#include "tinygen/tiny_checkpoint.h"

namespace deepseek::tinygen {

// The architecture, with the field names of config.json's text_config and vision_config. The
// defaults of the V4.1 fields are the golden v41_image checkpoint's values.
struct TinyV41Spec {
  // The fields V4.1's text_config shares with V4. compress_ratios has exactly one entry per
  // layer: no DSpark (MTP) layers are generated. num_hash_layers must be 0 (V4.1 has none).
  TinySpec text;

  std::vector<int> kv_source_layer_ids = {2, 4, 5};
  std::vector<int> index_source_layer_ids = {2, 4, 5, 7};
  int candidate_source_layer_id = 5;
  int candidate_topk_blocks = 2;
  int candidate_block_size = 4;
  double gate_temp = 1.0;

  // Engram. Its table sizes (engram_num_embeddings) and engram_compressed_vocab_size follow from
  // the tokenizer; engram_vocab_size, which starts the tables' primes, is set to the compressed
  // size as in the golden checkpoints.
  std::vector<int> engram_layer_ids = {1, 4};
  int engram_max_ngram_size = 4;
  int engram_n_heads = 2;
  int engram_head_dim = 32;
  // engram_vocab_size, where the tables' primes start: 0 takes the compressed size (the golden
  // checkpoints' choice); a large value makes tables of realistic size (~33 bytes a row).
  int64_t engram_vocab_size = 0;
  // The tables left as holes of sparse shard files (all zeros: codes 0, scales 2^-127), so
  // tables of many GiB cost no disk space or time to write.
  bool sparse_engram_tables = false;

  // vision_config.
  int vision_layers = 2;
  int64_t vision_hidden_size = 64;
  int vision_heads = 4;
  int64_t vision_intermediate_size = 96;
  int patch_size = 14;
  double vision_rope_theta = 10000.0;
  int downsample_ratio = 3;
  // 64 slots take a 200x150 image without shrinking it (5 x 4 tokens, 4 newlines and the two
  // delimiters: 26 slots); larger images are shrunk to fit.
  int64_t max_image_tokens = 64;
  int64_t min_pixels = 1;  // no upscaling: small test images keep their size

  // The golden v41_image checkpoint's architecture (8 layers, CSA2 ratios 0,0,2,2,2,1,1,1, Engram on
  // layers 1 and 4, a two-block ViT) with a 512-id byte-level BPE tokenizer.
  static TinyV41Spec Tiny();
};

// Writes the checkpoint for `spec` into `dir` (created if needed): config.json,
// inference_config.json, model.safetensors.index.json, the shards, tokenizer.json and
// tokenizer_config.json. The tokenizer is tinygen's (tokenizer_builder.h) with two more added
// tokens as its last ids: <｜System｜>, which opens V4.1's system messages, and
// <｜deepseek_image｜>, the image_token_id. The config is checked with the library's own parser
// before any tensor is written. The bytes depend only on the spec (seed included). Throws
// deepseek::Error: kInvalidArgument or kInvalidConfig for an inconsistent spec, kUnsupported for
// an expert format other than "fp4", kIoError when a file cannot be written.
void WriteTinyV41Checkpoint(const TinyV41Spec& spec, const std::string& dir, ProgressFn progress = {});

}  // namespace deepseek::tinygen

// Generates seeded random DeepSeek V4 checkpoints in the official Hugging Face layout (config,
// index, safetensors shards, tokenizer) for the demo, the tests and the benchmarks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tinygen/progress.h"

namespace deepseek::tinygen {

// The architecture of a checkpoint, with the Hugging Face config.json field names.
// The defaults are flash_tiny's values.
struct TinySpec {
  int64_t vocab_size = 512;
  int64_t hidden_size = 256;
  int num_hidden_layers = 6;
  int num_hash_layers = 2;  // the first layers route by token id (ffn.gate.tid2eid)
  int num_attention_heads = 4;
  int head_dim = 512;
  int qk_rope_head_dim = 64;
  int q_lora_rank = 128;
  int o_groups = 2;
  int o_lora_rank = 128;
  int sliding_window = 16;
  std::vector<int> compress_ratios = {0, 4, 8, 4, 8, 4, 0};  // one per layer, then the MTP layer
  int n_routed_experts = 8;
  int n_shared_experts = 1;
  int num_experts_per_tok = 2;
  int moe_intermediate_size = 128;
  int index_n_heads = 8;
  int index_head_dim = 128;
  int index_topk = 8;
  double routed_scaling_factor = 1.5;
  double rope_theta = 10000;
  double compress_rope_theta = 160000;
  double rope_factor = 16;  // rope_scaling (YaRN)
  int64_t original_max_position_embeddings = 65536;
  double beta_fast = 32;
  double beta_slow = 1;
  int64_t max_position_embeddings = 1048576;
  int hc_mult = 4;
  int hc_sinkhorn_iters = 20;
  double hc_eps = 1e-6;
  double rms_norm_eps = 1e-6;
  double swiglu_limit = 10.0;
  std::string expert_dtype = "fp4";  // routed experts as MXFP4; the only format generated

  uint64_t seed = 1;
  int num_shards = 2;

  // The architecture of shared/golden/v4/flash_tiny (V4-Flash's structure, scaled down).
  static TinySpec FlashTiny();
  // The architecture of shared/golden/v4/pro_tiny (V4-Pro's structure: HCA first layers).
  static TinySpec ProTiny();
  // V4-Flash's real layer dimensions with `layers` layers (CSA/HCA alternating, from CSA) and
  // `experts` routed experts: a few GB per layer pair, for benchmarks.
  static TinySpec FlashBench(int layers, int experts);
};

// Writes the checkpoint for `spec` into `dir` (created if needed): config.json,
// inference_config.json, generation_config.json, model.safetensors.index.json, the shards
// model-0000N-of-0000M.safetensors, tokenizer.json and tokenizer_config.json. The bytes depend
// only on the spec (seed included). Streams tensor by tensor; memory stays bounded for any
// size. Throws deepseek::Error: kInvalidArgument for an inconsistent spec, kUnsupported for an
// expert format other than "fp4", kIoError when a file cannot be written.
void WriteTinyCheckpoint(const TinySpec& spec, const std::string& dir, ProgressFn progress = {});

}  // namespace deepseek::tinygen

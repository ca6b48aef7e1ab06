// ModelConfig: the hyperparameters of a DeepSeek V4-architecture checkpoint, as plain data.
// Read from the Hugging Face config.json (field names in comments; a V4.1 config holds the text
// fields in text_config) and validated once at load.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace deepseek {

// Which generation of the architecture a checkpoint is, from config.json's model_type.
enum class ModelFamily : uint8_t {
  kV4,   // "deepseek_v4": V4-Flash, V4-Pro and same-architecture configurations (flat config)
  kV41,  // "deepseek_v41": V4.1 (composite config: text_config, vision_config)
};

// V4.1's Engram memory (text_config.engram_*, spec §8.4); empty layer_ids when absent.
struct EngramConfig {
  std::vector<int> layer_ids;              // engram_layer_ids
  std::vector<int64_t> num_embeddings;     // engram_num_embeddings: table rows per Engram layer
  int max_ngram = 0;                       // engram_max_ngram_size (orders 2 .. max)
  int heads = 0;                           // engram_n_heads
  int head_dim = 0;                        // engram_head_dim (values per table row)
  int64_t vocab_size = 0;                  // engram_vocab_size: table primes start above it − 1
  int64_t compressed_vocab = 0;            // engram_compressed_vocab_size
};

// V4.1's vision tower (vision_config, spec §8.10); n_layers 0 when the checkpoint has none.
struct VisionConfig {
  int n_layers = 0;                // num_hidden_layers
  int64_t dim = 0;                 // hidden_size
  int n_heads = 0;                 // num_attention_heads
  int64_t inter_dim = 0;           // intermediate_size
  int patch_size = 0;              // patch_size
  double rope_theta = 0;           // rope_theta (2D RoPE)
  int downsample_ratio = 0;        // downsample_ratio (the aligner's k × k merge)
  int64_t max_image_tokens = 0;    // max_image_tokens
  int64_t min_pixels = 0;          // min_pixels
  double max_wh_ratio = 0;         // max_wh_ratio (0: null, no limit)
};

struct ModelConfig {
  ModelFamily family = ModelFamily::kV4;
  std::string model_type;          // model_type, "deepseek_v4" or "deepseek_v41"
  int64_t vocab_size = 0;          // vocab_size
  int64_t dim = 0;                 // hidden_size (D)
  int n_layers = 0;                // num_hidden_layers
  int n_mtp_layers = 0;            // num_nextn_predict_layers
  int n_hash_layers = 0;           // num_hash_layers: the first layers route by token id
  int n_heads = 0;                 // num_attention_heads (H)
  int head_dim = 0;                // head_dim (512): one shared K=V latent of this width
  int rope_dim = 0;                // qk_rope_head_dim (64): the LAST rope_dim dims carry RoPE
  int q_lora_rank = 0;             // q_lora_rank
  int o_groups = 0;                // o_groups (G)
  int o_lora_rank = 0;             // o_lora_rank
  int window = 0;                  // sliding_window
  std::vector<int> compress_ratios;  // compress_ratios: one per layer, then one per MTP layer
  double rope_theta = 0;           // rope_theta (window-only layers, no YaRN)
  double compress_rope_theta = 0;  // compress_rope_theta (compressed layers, with YaRN)
  double rope_factor = 1;          // rope_scaling.factor
  int64_t rope_original_len = 0;   // rope_scaling.original_max_position_embeddings
  double beta_fast = 32;           // rope_scaling.beta_fast
  double beta_slow = 1;            // rope_scaling.beta_slow
  int64_t max_positions = 0;       // max_position_embeddings
  int index_heads = 0;             // index_n_heads
  int index_head_dim = 0;          // index_head_dim
  int index_topk = 0;              // index_topk
  int n_experts = 0;               // n_routed_experts (E)
  int n_active_experts = 0;        // num_experts_per_tok
  int n_shared_experts = 0;        // n_shared_experts (must be 1)
  int64_t moe_inter_dim = 0;       // moe_intermediate_size
  std::string scoring_func;        // scoring_func ("sqrtsoftplus")
  double route_scale = 1;          // routed_scaling_factor
  double swiglu_limit = 0;         // swiglu_limit (0 = no clamp)
  bool norm_topk_prob = true;      // norm_topk_prob
  int hc_mult = 0;                 // hc_mult (n streams)
  int hc_sinkhorn_iters = 0;       // hc_sinkhorn_iters
  double hc_eps = 0;               // hc_eps
  double norm_eps = 0;             // rms_norm_eps
  int bos_token_id = 0;            // bos_token_id
  int eos_token_id = 1;            // eos_token_id
  std::string expert_dtype;        // expert_dtype ("fp4" or absent)
  int fp8_block = 128;             // quantization_config.weight_block_size of the dense FP8
                                   // tensors (V4 128 × 128, V4.1 32 × 32)

  // V4.1 only (text_config unless noted; spec §2.5, §8).
  int pad_token_id = -1;                 // pad_token_id (top level)
  int image_token_id = -1;               // image_token_id (top level)
  std::vector<int> kv_source_layers;     // kv_source_layer_ids: layers owning compressed caches
  std::vector<int> index_source_layers;  // index_source_layer_ids: layers selecting entries
  int candidate_source_layer = -1;       // candidate_source_layer_id (-1: none)
  int candidate_topk_blocks = 0;         // candidate_topk_blocks
  int candidate_block_size = 0;          // candidate_block_size
  double gate_temp = 1;                  // gate_temp: router logits are divided by it
  EngramConfig engram;
  VisionConfig vision;

  // Layer kinds derived from compress_ratios.
  int ratio(int layer) const { return compress_ratios[static_cast<size_t>(layer)]; }
  bool is_hash_layer(int layer) const { return layer < n_hash_layers; }
};

}  // namespace deepseek

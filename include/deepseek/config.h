// ModelConfig: the hyperparameters of a DeepSeek V4-architecture checkpoint, as plain data.
// Read from the Hugging Face config.json (field names in comments) and validated once at load.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace deepseek {

struct ModelConfig {
  std::string model_type;          // model_type, "deepseek_v4"
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

  // Layer kinds derived from compress_ratios.
  int ratio(int layer) const { return compress_ratios[static_cast<size_t>(layer)]; }
  bool is_hash_layer(int layer) const { return layer < n_hash_layers; }
};

}  // namespace deepseek

#include "tinygen/text_model.h"

#include <string>

#include "core/error.h"

namespace deepseek::tinygen {

void ValidateText(const TinySpec& s) {
  const auto require = [](bool ok, const std::string& what) {
    if (!ok) Fail(StatusCode::kInvalidArgument, "invalid tiny checkpoint spec: " + what);
  };
  if (s.expert_dtype != "fp4") Fail(StatusCode::kUnsupported, "tinygen writes only fp4 experts, not " + s.expert_dtype);
  require(s.hidden_size > 0 && s.hidden_size % 32 == 0, "hidden_size must be a positive multiple of 32 (MXFP4)");
  require(s.moe_intermediate_size > 0 && s.moe_intermediate_size % 32 == 0,
          "moe_intermediate_size must be a positive multiple of 32 (MXFP4)");
  require(s.num_hidden_layers >= 1, "num_hidden_layers must be at least 1");
  for (const int r : s.compress_ratios) require(r >= 0, "compress ratios must be >= 0");
  require(s.num_attention_heads > 0 && s.head_dim > 0 && s.q_lora_rank > 0 && s.o_lora_rank > 0 && s.hc_mult > 0,
          "dimensions must be positive");
  require(s.o_groups > 0 && s.num_attention_heads % s.o_groups == 0, "o_groups must divide num_attention_heads");
  require(s.index_n_heads > 0 && s.index_head_dim > 0, "indexer dimensions must be positive");
  require(s.num_experts_per_tok >= 1 && s.num_experts_per_tok <= s.n_routed_experts,
          "num_experts_per_tok must be in [1, n_routed_experts]");
  require(s.n_shared_experts >= 0, "n_shared_experts must be >= 0");
  require(s.num_shards >= 1 && s.num_shards <= s.num_hidden_layers + 2,
          "num_shards must be in [1, num_hidden_layers + 2]");
}

void MixingTensors(const TinySpec& s, TensorList& t) {
  const int64_t d = s.hidden_size, hc = s.hc_mult, mix = (2 + hc) * hc;
  t.Add("attn_norm.weight", Storage::kBf16, {d}, NormWeight());
  t.Add("ffn_norm.weight", Storage::kBf16, {d}, NormWeight());
  for (const std::string site : {"attn", "ffn"}) {
    t.Add("hc_" + site + "_fn", Storage::kF32, {mix, hc * d}, Linear(hc * d));
    t.Add("hc_" + site + "_base", Storage::kF32, {mix}, Normal(0.3f, 0.9f));
    t.Add("hc_" + site + "_scale", Storage::kF32, {3}, Uniform(0.2f, 0.7f));
  }
}

void AttentionCoreTensors(const TinySpec& s, TensorList& t, Storage fp8) {
  const int64_t d = s.hidden_size, heads = s.num_attention_heads, hd = s.head_dim;
  const int64_t group_in = heads * hd / s.o_groups, group_out = int64_t{s.o_groups} * s.o_lora_rank;
  t.Add("attn.attn_sink", Storage::kF32, {heads}, Normal(0.0f, 0.5f));
  t.Add("attn.wq_a.weight", fp8, {s.q_lora_rank, d}, Linear(d));
  t.Add("attn.q_norm.weight", Storage::kBf16, {s.q_lora_rank}, NormWeight());
  t.Add("attn.wq_b.weight", fp8, {heads * hd, s.q_lora_rank}, Linear(s.q_lora_rank));
  t.Add("attn.wkv.weight", fp8, {hd, d}, Linear(d));
  t.Add("attn.kv_norm.weight", Storage::kBf16, {hd}, NormWeight());
  t.Add("attn.wo_a.weight", fp8, {group_out, group_in}, Linear(group_in));
  t.Add("attn.wo_b.weight", fp8, {d, group_out}, Linear(group_out));
}

void MoeTensors(const TinySpec& s, TensorList& t, Storage fp8, bool hash_routed, bool vision_bias) {
  const int64_t d = s.hidden_size, inter = s.moe_intermediate_size, shared = inter * s.n_shared_experts;
  t.Add("ffn.gate.weight", Storage::kBf16, {s.n_routed_experts, d}, Linear(d, 1.5f));
  if (hash_routed) t.Add("ffn.gate.tid2eid", Storage::kExpertIds, {s.vocab_size, s.num_experts_per_tok}, {});
  else t.Add("ffn.gate.bias", Storage::kF32, {s.n_routed_experts}, Normal(0.0f, 0.15f));
  // Image-span tokens route with their own bias (V4.1 with vision).
  if (vision_bias) t.Add("ffn.gate.bias_vl", Storage::kF32, {s.n_routed_experts}, Normal(0.0f, 0.15f));
  for (int e = 0; e < s.n_routed_experts; ++e) {
    const std::string p = "ffn.experts." + std::to_string(e) + ".";
    t.Add(p + "w1.weight", Storage::kMxfp4, {inter, d}, ExpertInput(d));
    t.Add(p + "w2.weight", Storage::kMxfp4, {d, inter}, Linear(inter));
    t.Add(p + "w3.weight", Storage::kMxfp4, {inter, d}, ExpertInput(d));
  }
  if (shared > 0) {
    t.Add("ffn.shared_experts.w1.weight", fp8, {shared, d}, Linear(d));
    t.Add("ffn.shared_experts.w2.weight", fp8, {d, shared}, Linear(shared));
    t.Add("ffn.shared_experts.w3.weight", fp8, {shared, d}, Linear(d));
  }
}

}  // namespace deepseek::tinygen

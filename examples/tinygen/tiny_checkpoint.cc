// The V4 generator: one table (BlockTensors) describes a transformer block's tensors; the same
// descriptions drive the shard layout, the headers, the index and the value streams.
#include "tinygen/tiny_checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/error.h"
#include "tinygen/checkpoint_files.h"
#include "tinygen/tensor_plan.h"
#include "tinygen/text_model.h"
#include "tinygen/tokenizer_builder.h"

namespace deepseek::tinygen {

TinySpec TinySpec::FlashTiny() { return TinySpec{}; }

TinySpec TinySpec::ProTiny() {
  TinySpec s;
  s.hidden_size = 128;
  s.num_hidden_layers = 4;
  s.num_hash_layers = 3;
  s.compress_ratios = {16, 16, 4, 16, 0};
  s.routed_scaling_factor = 2.5;
  return s;
}

TinySpec TinySpec::FlashBench(int layers, int experts) {
  TinySpec s;
  s.vocab_size = 129280;
  s.hidden_size = 4096;
  s.num_hidden_layers = layers;
  s.num_hash_layers = layers > 1 ? 1 : 0;  // one hash-routed layer when there are score layers too
  s.num_attention_heads = 64;
  s.q_lora_rank = 1024;
  s.o_groups = 8;
  s.o_lora_rank = 1024;
  s.sliding_window = 128;
  s.compress_ratios.clear();
  for (int i = 0; i < layers; ++i) s.compress_ratios.push_back(i % 2 == 0 ? 4 : 128);
  s.compress_ratios.push_back(0);
  s.n_routed_experts = experts;
  s.num_experts_per_tok = 6;
  s.moe_intermediate_size = 2048;
  s.index_n_heads = 64;
  s.index_topk = 512;
  s.routed_scaling_factor = 1.5;
  return s;
}

namespace {

using Json = nlohmann::ordered_json;

// A compressor (main or indexer) of width `width`: ratio 4 pools overlapping windows, so its
// projections and position embedding are twice as wide.
void CompressorTensors(const TinySpec& s, TensorList& t, const std::string& prefix, int ratio, int64_t width) {
  const int64_t wide = (ratio == 4 ? 2 : 1) * width;
  t.Add(prefix + "ape", Storage::kF32, {ratio, wide}, Normal(0.0f, 0.5f));
  t.Add(prefix + "wkv.weight", Storage::kBf16, {wide, s.hidden_size}, Linear(s.hidden_size));
  t.Add(prefix + "wgate.weight", Storage::kBf16, {wide, s.hidden_size}, Linear(s.hidden_size));
  t.Add(prefix + "norm.weight", Storage::kBf16, {width}, NormWeight());
}

// Every tensor of one transformer block (main layer or MTP block).
void BlockTensors(const TinySpec& s, TensorList& t, int ratio, bool hash_routed) {
  MixingTensors(s, t);
  AttentionCoreTensors(s, t, Storage::kFp8Block128);
  if (ratio > 0) CompressorTensors(s, t, "attn.compressor.", ratio, s.head_dim);
  if (ratio == 4) {  // CSA: the lightning indexer picks the compressed entries
    t.Add("attn.indexer.wq_b.weight", Storage::kFp8Block128,
          {int64_t{s.index_n_heads} * s.index_head_dim, s.q_lora_rank}, Linear(s.q_lora_rank));
    t.Add("attn.indexer.weights_proj.weight", Storage::kBf16, {s.index_n_heads, s.hidden_size}, Linear(s.hidden_size));
    CompressorTensors(s, t, "attn.indexer.compressor.", ratio, s.index_head_dim);
  }
  MoeTensors(s, t, Storage::kFp8Block128, hash_routed, /*vision_bias=*/false);
}

// The mHC head that collapses the four streams before the final norm.
void HeadTensors(const TinySpec& s, TensorList& t) {
  const int64_t hc = s.hc_mult;
  t.Add("hc_head_fn", Storage::kF32, {hc, hc * s.hidden_size}, Linear(hc * s.hidden_size));
  t.Add("hc_head_base", Storage::kF32, {hc}, Normal(0.1f, 0.15f));
  t.Add("hc_head_scale", Storage::kF32, {1}, Uniform(0.2f, 0.7f));
  t.Add("norm.weight", Storage::kBf16, {s.hidden_size}, NormWeight());
}

// All tensors with their shards (ShardOfUnit); the tail holds the head and the MTP block.
std::vector<TensorDesc> DescribeCheckpoint(const TinySpec& s) {
  std::vector<TensorDesc> all;
  const int units = s.num_hidden_layers + 2, last = s.num_shards - 1;
  const auto shard_of = [&](int unit) { return ShardOfUnit(unit, units, s.num_shards); };

  TensorList top(all, "", 0);
  top.Add("embed.weight", Storage::kBf16, {s.vocab_size, s.hidden_size}, Normal(0.0f, 1.0f));
  for (int i = 0; i < s.num_hidden_layers; ++i) {
    TensorList layer(all, "layers." + std::to_string(i) + ".", shard_of(i + 1));
    BlockTensors(s, layer, s.compress_ratios[static_cast<size_t>(i)], i < s.num_hash_layers);
  }
  TensorList tail(all, "", last);
  // The head's logits get a std of about 2.5 from unit-RMS normed inputs.
  tail.Add("head.weight", Storage::kBf16, {s.vocab_size, s.hidden_size}, Linear(s.hidden_size, 2.5f));
  HeadTensors(s, tail);

  TensorList mtp(all, "mtp.0.", last);
  BlockTensors(s, mtp, s.compress_ratios.back(), /*hash_routed=*/false);
  HeadTensors(s, mtp);
  mtp.Add("e_proj.weight", Storage::kFp8Block128, {s.hidden_size, s.hidden_size}, Linear(s.hidden_size));
  mtp.Add("h_proj.weight", Storage::kFp8Block128, {s.hidden_size, s.hidden_size}, Linear(s.hidden_size));
  mtp.Add("enorm.weight", Storage::kBf16, {s.hidden_size}, NormWeight());
  mtp.Add("hnorm.weight", Storage::kBf16, {s.hidden_size}, NormWeight());
  // The official files repeat the shared embedding and head inside the MTP block, byte for byte.
  for (const auto& names : {std::pair{"mtp.0.emb.tok_emb.weight", "embed.weight"},
                            std::pair{"mtp.0.head.weight", "head.weight"}}) {
    const auto it = std::find_if(all.begin(), all.end(), [&](const TensorDesc& t) { return t.name == names.second; });
    TensorDesc dup = *it;
    dup.name = names.first;
    dup.shard = last;
    all.push_back(std::move(dup));
  }
  return all;
}

// ---- Configuration files ---------------------------------------------------------------

Json ConfigJson(const TinySpec& s) {
  Json c = Json::object();
  c["architectures"] = {"DeepseekV4ForCausalLM"};
  c["model_type"] = "deepseek_v4";
  c["attention_bias"] = false;
  c["attention_dropout"] = 0.0;
  c["bos_token_id"] = 0;
  c["eos_token_id"] = 1;
  c["expert_dtype"] = s.expert_dtype;
  c["hc_eps"] = s.hc_eps;
  c["hc_mult"] = s.hc_mult;
  c["hc_sinkhorn_iters"] = s.hc_sinkhorn_iters;
  c["head_dim"] = s.head_dim;
  c["hidden_act"] = "silu";
  c["hidden_size"] = s.hidden_size;
  c["index_head_dim"] = s.index_head_dim;
  c["index_n_heads"] = s.index_n_heads;
  c["index_topk"] = s.index_topk;
  c["initializer_range"] = 0.02;
  c["max_position_embeddings"] = s.max_position_embeddings;
  c["moe_intermediate_size"] = s.moe_intermediate_size;
  c["n_routed_experts"] = s.n_routed_experts;
  c["n_shared_experts"] = s.n_shared_experts;
  c["norm_topk_prob"] = true;
  c["num_attention_heads"] = s.num_attention_heads;
  c["num_experts_per_tok"] = s.num_experts_per_tok;
  c["num_hidden_layers"] = s.num_hidden_layers;
  c["num_hash_layers"] = s.num_hash_layers;
  c["num_key_value_heads"] = 1;
  c["num_nextn_predict_layers"] = 1;
  c["o_groups"] = s.o_groups;
  c["o_lora_rank"] = s.o_lora_rank;
  c["q_lora_rank"] = s.q_lora_rank;
  c["qk_rope_head_dim"] = s.qk_rope_head_dim;
  c["quantization_config"] = {{"activation_scheme", "dynamic"}, {"fmt", "e4m3"},          {"quant_method", "fp8"},
                              {"scale_fmt", "ue8m0"},           {"weight_block_size", {128, 128}}};
  c["rms_norm_eps"] = s.rms_norm_eps;
  c["rope_scaling"] = {{"beta_fast", JsonNumber(s.beta_fast)},
                       {"beta_slow", JsonNumber(s.beta_slow)},
                       {"factor", JsonNumber(s.rope_factor)},
                       {"original_max_position_embeddings", s.original_max_position_embeddings},
                       {"type", "yarn"}};
  c["rope_theta"] = JsonNumber(s.rope_theta);
  c["routed_scaling_factor"] = s.routed_scaling_factor;
  c["scoring_func"] = "sqrtsoftplus";
  c["sliding_window"] = s.sliding_window;
  c["swiglu_limit"] = s.swiglu_limit;
  c["tie_word_embeddings"] = false;
  c["topk_method"] = "noaux_tc";
  c["torch_dtype"] = "bfloat16";
  c["transformers_version"] = "4.57.1";
  c["use_cache"] = true;
  c["vocab_size"] = s.vocab_size;
  c["compress_rope_theta"] = JsonNumber(s.compress_rope_theta);
  c["compress_ratios"] = s.compress_ratios;
  return c;
}

// The flat config of the reference inference code (inference/config.json), which renames
// fields; the golden checkpoints ship it beside config.json.
Json InferenceConfigJson(const TinySpec& s) {
  return Json{{"vocab_size", s.vocab_size},
              {"dim", s.hidden_size},
              {"moe_inter_dim", s.moe_intermediate_size},
              {"n_layers", s.num_hidden_layers},
              {"n_hash_layers", s.num_hash_layers},
              {"n_heads", s.num_attention_heads},
              {"n_routed_experts", s.n_routed_experts},
              {"n_shared_experts", s.n_shared_experts},
              {"n_activated_experts", s.num_experts_per_tok},
              {"score_func", "sqrtsoftplus"},
              {"route_scale", s.routed_scaling_factor},
              {"swiglu_limit", s.swiglu_limit},
              {"q_lora_rank", s.q_lora_rank},
              {"head_dim", s.head_dim},
              {"rope_head_dim", s.qk_rope_head_dim},
              {"o_groups", s.o_groups},
              {"o_lora_rank", s.o_lora_rank},
              {"window_size", s.sliding_window},
              {"original_seq_len", s.original_max_position_embeddings},
              {"rope_theta", JsonNumber(s.rope_theta)},
              {"rope_factor", JsonNumber(s.rope_factor)},
              {"beta_fast", JsonNumber(s.beta_fast)},
              {"beta_slow", JsonNumber(s.beta_slow)},
              {"index_n_heads", s.index_n_heads},
              {"index_head_dim", s.index_head_dim},
              {"index_topk", s.index_topk},
              {"hc_mult", s.hc_mult},
              {"hc_sinkhorn_iters", s.hc_sinkhorn_iters},
              {"dtype", "fp8"},
              {"scale_fmt", "ue8m0"},
              {"expert_dtype", s.expert_dtype},
              {"compress_rope_theta", JsonNumber(s.compress_rope_theta)},
              {"compress_ratios", s.compress_ratios}};
}

Json GenerationConfigJson() {
  return Json{{"bos_token_id", 0}, {"eos_token_id", 1},        {"do_sample", true},
              {"temperature", 1.0}, {"top_p", 1.0},            {"transformers_version", "4.57.1"}};
}

void Validate(const TinySpec& s) {
  ValidateText(s);
  const auto require = [](bool ok, const std::string& what) {
    if (!ok) Fail(StatusCode::kInvalidArgument, "invalid tiny checkpoint spec: " + what);
  };
  require(s.vocab_size >= kMinTokenizerVocab, "vocab_size must be at least " + std::to_string(kMinTokenizerVocab));
  require(s.compress_ratios.size() == static_cast<size_t>(s.num_hidden_layers) + 1,
          "compress_ratios needs one entry per layer plus one for the MTP layer");
  require(s.num_hash_layers >= 0 && s.num_hash_layers <= s.num_hidden_layers, "num_hash_layers out of range");
}

}  // namespace

void WriteTinyCheckpoint(const TinySpec& spec, const std::string& dir, ProgressFn progress) {
  Validate(spec);
  const std::filesystem::path root = CreateFolder(dir);
  WriteShards(DescribeCheckpoint(spec), spec.num_shards, spec.seed, spec.n_routed_experts, root, progress);
  WriteTextFile(root / "config.json", ConfigJson(spec).dump(2) + "\n");
  WriteTextFile(root / "inference_config.json", InferenceConfigJson(spec).dump(4) + "\n");
  WriteTextFile(root / "generation_config.json", GenerationConfigJson().dump(2) + "\n");
  WriteTextFile(root / "tokenizer.json", BuildTokenizerJson(spec.vocab_size));
  WriteTextFile(root / "tokenizer_config.json", BuildTokenizerConfigJson());
}

}  // namespace deepseek::tinygen

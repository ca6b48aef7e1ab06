// The V4.1 generator. Unlike V4, part of the config follows from the tokenizer (the image token's
// id, Engram's compressed vocabulary and, through the primes, its table sizes), so the tokenizer
// is built first and these values are derived with the library's own functions, the ones that
// read the checkpoint back.
#include "tinygen/v41_checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "deepseek/config.h"
#include "deepseek/tokenizer.h"
#include "model/config_parser.h"
#include "model/engram_hash.h"
#include "tinygen/checkpoint_files.h"
#include "tinygen/tensor_plan.h"
#include "tinygen/text_model.h"
#include "tinygen/tokenizer_builder.h"
#include "tokenizer/engram_token_map.h"

namespace deepseek::tinygen {

TinyV41Spec TinyV41Spec::Tiny() {
  TinyV41Spec s;
  TinySpec& t = s.text;
  t.hidden_size = 128;
  t.num_hidden_layers = 8;
  t.num_hash_layers = 0;
  t.head_dim = 64;
  t.qk_rope_head_dim = 16;
  t.q_lora_rank = 64;
  t.o_lora_rank = 32;
  t.compress_ratios = {0, 0, 2, 2, 2, 1, 1, 1};
  t.n_routed_experts = 4;
  t.moe_intermediate_size = 64;
  t.index_head_dim = 64;
  t.index_topk = 6;
  t.rms_norm_eps = 1e-20;
  return s;
}

namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kImageToken = "<｜deepseek_image｜>";

// What the config takes from the tokenizer.
struct Derived {
  int image_token_id = 0;
  int64_t compressed_vocab = 0;
  std::vector<int64_t> engram_rows;  // per Engram layer
};

bool Contains(const std::vector<int>& layers, int layer) { return std::ranges::find(layers, layer) != layers.end(); }

// What the tensor plan relies on beyond what the library's config parser checks.
void Validate(const TinyV41Spec& s) {
  const TinySpec& t = s.text;
  ValidateText(t);
  const auto require = [](bool ok, const std::string& what) {
    if (!ok) Fail(StatusCode::kInvalidArgument, "invalid tiny V4.1 checkpoint spec: " + what);
  };
  for (const int r : t.compress_ratios) require(r <= 2, "compress ratios must be 0, 1 or 2 (CSA2)");
  require(t.num_hash_layers == 0, "V4.1 has no hash-routed layers (num_hash_layers must be 0)");
}

// Engram's tables are FP8 rows with one scale per 32 values; the projection reads the
// (max_ngram - 1) x heads rows gathered per token.
void EngramTensors(const TinyV41Spec& s, TensorList& t, int64_t rows) {
  const int64_t d = s.text.hidden_size, hc = s.text.hc_mult;
  const int64_t gathered = int64_t{s.engram_max_ngram_size - 1} * s.engram_n_heads * s.engram_head_dim;
  t.Add("engram.embed.weight", Storage::kFp8Rows, {rows, s.engram_head_dim}, Normal(0.0f, 1.0f), s.sparse_engram_tables);
  t.Add("engram.wkv.weight", Storage::kFp8Block32, {(hc + 1) * d, gathered}, Linear(gathered));
  t.Add("engram.q_weight", Storage::kBf16, {hc, d}, NormWeight());
  t.Add("engram.k_weight", Storage::kBf16, {hc, d}, NormWeight());
}

// One layer. Only KV sources own a compressor (ratio 2 pools pairs through a gate, ratio 1 keeps
// one latent per token, neither has a position embedding) and the index keys' projection; only
// index sources own the indexer's queries and head weights.
void BlockTensors(const TinyV41Spec& s, TensorList& t, int layer, const Derived& derived) {
  const TinySpec& m = s.text;
  const int64_t d = m.hidden_size, hd = m.head_dim;
  MixingTensors(m, t);
  AttentionCoreTensors(m, t, Storage::kFp8Block32);
  if (Contains(s.kv_source_layer_ids, layer)) {
    t.Add("attn.compressor.wkv.weight", Storage::kBf16, {hd, d}, Linear(d));
    if (m.compress_ratios[static_cast<size_t>(layer)] == 2) t.Add("attn.compressor.wgate.weight", Storage::kBf16, {hd, d}, Linear(d));
    t.Add("attn.compressor.norm.weight", Storage::kBf16, {hd}, NormWeight());
    t.Add("attn.indexer.wk.weight", Storage::kBf16, {m.index_head_dim, hd}, Linear(hd));
    t.Add("attn.indexer.k_norm.weight", Storage::kBf16, {m.index_head_dim}, NormWeight());
  }
  if (Contains(s.index_source_layer_ids, layer)) {
    t.Add("attn.indexer.wq_b.weight", Storage::kFp8Block32, {int64_t{m.index_n_heads} * m.index_head_dim, m.q_lora_rank},
          Linear(m.q_lora_rank));
    t.Add("attn.indexer.weights_proj.weight", Storage::kBf16, {m.index_n_heads, d}, Linear(d));
  }
  for (size_t e = 0; e < s.engram_layer_ids.size(); ++e) {
    if (s.engram_layer_ids[e] == layer) EngramTensors(s, t, derived.engram_rows[e]);
  }
  MoeTensors(m, t, Storage::kFp8Block32, /*hash_routed=*/false, /*vision_bias=*/true);
}

// The ViT (patch embedding, pre-norm blocks, final norm), the aligner that merges k x k patches
// into one token of the text model's width, and the image span's learned delimiters.
void VisionTensors(const TinyV41Spec& s, TensorList& t) {
  const int64_t vd = s.vision_hidden_size, inter = s.vision_intermediate_size, d = s.text.hidden_size;
  const int64_t patch_in = 3 * int64_t{s.patch_size} * s.patch_size;
  const int64_t merged = vd * s.downsample_ratio * s.downsample_ratio;
  const Values bias = Normal(0.0f, 0.05f);
  t.Add("vision.patch_embed.proj.weight", Storage::kBf16, {vd, patch_in}, Linear(patch_in));
  t.Add("vision.patch_embed.proj.bias", Storage::kBf16, {vd}, bias);
  for (int l = 0; l < s.vision_layers; ++l) {
    const std::string p = "vision.blocks." + std::to_string(l) + ".";
    t.Add(p + "norm1.weight", Storage::kF32, {vd}, NormWeight());
    t.Add(p + "attn.wqkv.weight", Storage::kBf16, {3 * vd, vd}, Linear(vd));
    t.Add(p + "attn.wqkv.bias", Storage::kBf16, {3 * vd}, bias);
    t.Add(p + "attn.wo.weight", Storage::kBf16, {vd, vd}, Linear(vd));
    t.Add(p + "attn.wo.bias", Storage::kBf16, {vd}, bias);
    t.Add(p + "norm2.weight", Storage::kF32, {vd}, NormWeight());
    t.Add(p + "mlp.w1.weight", Storage::kBf16, {2 * inter, vd}, Linear(vd));
    t.Add(p + "mlp.w2.weight", Storage::kBf16, {vd, inter}, Linear(inter));
  }
  t.Add("vision.norm.weight", Storage::kF32, {vd}, NormWeight());
  t.Add("aligner.w1.weight", Storage::kBf16, {d, merged}, Linear(merged));
  t.Add("aligner.w1.bias", Storage::kBf16, {d}, bias);
  t.Add("aligner.w2.weight", Storage::kBf16, {d, d}, Linear(d));
  t.Add("aligner.w2.bias", Storage::kBf16, {d}, bias);
  // The delimiters stand in the sequence where token embeddings would: the same scale.
  for (const char* name : {"image_start", "image_newline", "image_end"}) t.Add(name, Storage::kBf16, {d}, Normal(0.0f, 1.0f));
}

// All tensors with their shards: contiguous runs of [embed, layer 0 .. L-1, tail], the tail
// holding the head, the final norm and the vision tower, as in the golden checkpoints. There is
// no hc_head (V4.1's output collapses with the last pre-mix) and no DSpark block.
std::vector<TensorDesc> DescribeCheckpoint(const TinyV41Spec& s, const Derived& derived) {
  const TinySpec& m = s.text;
  std::vector<TensorDesc> all;
  const int units = m.num_hidden_layers + 2, last = m.num_shards - 1;
  TensorList top(all, "", 0);
  top.Add("embed.weight", Storage::kBf16, {m.vocab_size, m.hidden_size}, Normal(0.0f, 1.0f));
  for (int i = 0; i < m.num_hidden_layers; ++i) {
    TensorList layer(all, "layers." + std::to_string(i) + ".", ShardOfUnit(i + 1, units, m.num_shards));
    BlockTensors(s, layer, i, derived);
  }
  TensorList tail(all, "", last);
  // The head's logits get a std of about 2.5 from unit-RMS normed inputs.
  tail.Add("head.weight", Storage::kBf16, {m.vocab_size, m.hidden_size}, Linear(m.hidden_size, 2.5f));
  tail.Add("norm.weight", Storage::kBf16, {m.hidden_size}, NormWeight());
  VisionTensors(s, tail);
  return all;
}

// The tokenizer's values the config needs, computed as the library computes them when it reads
// the checkpoint: the compressed token map over the tokenizer, then the Engram primes above
// engram_vocab_size - 1 (set to the compressed size, as the golden checkpoints do).
Derived Derive(const TinyV41Spec& s, const std::string& tokenizer_json) {
  const auto tokenizer = Tokenizer::FromJson(tokenizer_json, "tinygen tokenizer.json");
  if (!tokenizer.ok()) Fail(StatusCode::kInternal, "the generated tokenizer does not load: " + tokenizer.status().ToString());
  Derived d;
  d.image_token_id = *tokenizer.value()->TokenId(kImageToken);
  d.compressed_vocab = tokenizer::BuildEngramTokenMap(*tokenizer.value()).size;
  EngramConfig engram;
  engram.layer_ids = s.engram_layer_ids;
  engram.max_ngram = s.engram_max_ngram_size;
  engram.heads = s.engram_n_heads;
  engram.head_dim = s.engram_head_dim;
  engram.vocab_size = s.engram_vocab_size > 0 ? s.engram_vocab_size : d.compressed_vocab;
  engram.compressed_vocab = d.compressed_vocab;
  for (const model::EngramLayerHash& h : model::DeriveEngramHashes(engram)) d.engram_rows.push_back(h.rows());
  return d;
}

// config.json with the golden checkpoints' fields in their order (spec §2.5's names).
Json ConfigJson(const TinyV41Spec& s, const Derived& derived) {
  const TinySpec& m = s.text;
  Json text = Json::object();
  text["model_type"] = "deepseek_v41_text";
  text["vocab_size"] = m.vocab_size;
  text["hidden_size"] = m.hidden_size;
  text["num_hidden_layers"] = m.num_hidden_layers;
  text["num_nextn_predict_layers"] = 0;
  text["num_attention_heads"] = m.num_attention_heads;
  text["head_dim"] = m.head_dim;
  text["qk_rope_head_dim"] = m.qk_rope_head_dim;
  text["q_lora_rank"] = m.q_lora_rank;
  text["o_groups"] = m.o_groups;
  text["o_lora_rank"] = m.o_lora_rank;
  text["sliding_window"] = m.sliding_window;
  text["compress_ratios"] = m.compress_ratios;
  text["kv_source_layer_ids"] = s.kv_source_layer_ids;
  text["index_source_layer_ids"] = s.index_source_layer_ids;
  text["candidate_source_layer_id"] = s.candidate_source_layer_id;
  text["candidate_topk_blocks"] = s.candidate_topk_blocks;
  text["candidate_block_size"] = s.candidate_block_size;
  text["index_n_heads"] = m.index_n_heads;
  text["index_head_dim"] = m.index_head_dim;
  text["index_topk"] = m.index_topk;
  text["n_routed_experts"] = m.n_routed_experts;
  text["num_experts_per_tok"] = m.num_experts_per_tok;
  text["moe_intermediate_size"] = m.moe_intermediate_size;
  text["n_shared_experts"] = m.n_shared_experts;
  text["scoring_func"] = "sqrtsoftplus";
  text["routed_scaling_factor"] = m.routed_scaling_factor;
  text["norm_topk_prob"] = true;
  text["topk_method"] = "noaux_tc";
  text["gate_temp"] = s.gate_temp;
  text["swiglu_limit"] = m.swiglu_limit;
  text["rms_norm_eps"] = m.rms_norm_eps;
  text["hc_mult"] = m.hc_mult;
  text["hc_sinkhorn_iters"] = m.hc_sinkhorn_iters;
  text["hc_eps"] = m.hc_eps;
  text["rope_theta"] = JsonNumber(m.rope_theta);
  text["compress_rope_theta"] = JsonNumber(m.compress_rope_theta);
  text["rope_scaling"] = {{"type", "yarn"},
                          {"factor", JsonNumber(m.rope_factor)},
                          {"original_max_position_embeddings", m.original_max_position_embeddings},
                          {"beta_fast", JsonNumber(m.beta_fast)},
                          {"beta_slow", JsonNumber(m.beta_slow)}};
  text["engram_layer_ids"] = s.engram_layer_ids;
  text["engram_num_embeddings"] = derived.engram_rows;
  text["engram_max_ngram_size"] = s.engram_max_ngram_size;
  text["engram_n_heads"] = s.engram_n_heads;
  text["engram_head_dim"] = s.engram_head_dim;
  text["engram_vocab_size"] = s.engram_vocab_size > 0 ? s.engram_vocab_size : derived.compressed_vocab;
  text["engram_compressed_vocab_size"] = derived.compressed_vocab;
  text["pad_token_id"] = 2;  // the tokenizer's <｜▁pad▁｜>
  text["max_position_embeddings"] = m.max_position_embeddings;
  text["torch_dtype"] = "bfloat16";

  Json c = Json::object();
  c["architectures"] = {"DeepseekV41ForCausalLM"};
  c["model_type"] = "deepseek_v41";
  c["bos_token_id"] = 0;
  c["eos_token_id"] = 1;
  c["pad_token_id"] = 2;
  c["image_token_id"] = derived.image_token_id;
  c["quantization_config"] = {{"quant_method", "fp8"},  {"activation_scheme", "dynamic"}, {"fmt", "e4m3"},
                              {"weight_block_size", {32, 32}}, {"scale_fmt", "ue8m0"}, {"expert_dtype", m.expert_dtype}};
  c["text_config"] = std::move(text);
  c["torch_dtype"] = "bfloat16";
  c["vision_config"] = {{"model_type", "deepseek_v41_vision"},
                        {"num_hidden_layers", s.vision_layers},
                        {"hidden_size", s.vision_hidden_size},
                        {"num_attention_heads", s.vision_heads},
                        {"intermediate_size", s.vision_intermediate_size},
                        {"patch_size", s.patch_size},
                        {"rope_theta", s.vision_rope_theta},
                        {"downsample_ratio", s.downsample_ratio},
                        {"max_image_tokens", s.max_image_tokens},
                        {"min_pixels", s.min_pixels},
                        {"max_wh_ratio", nullptr}};
  return c;
}

// The flat config of the reference inference code, which renames fields; the golden V4.1
// checkpoints ship it beside config.json with these fields in this order.
Json InferenceConfigJson(const TinyV41Spec& s, const Derived& derived) {
  const TinySpec& m = s.text;
  return Json{{"vocab_size", m.vocab_size},
              {"dim", m.hidden_size},
              {"moe_inter_dim", m.moe_intermediate_size},
              {"n_layers", m.num_hidden_layers},
              {"n_mtp_layers", 0},
              {"n_heads", m.num_attention_heads},
              {"n_routed_experts", m.n_routed_experts},
              {"n_shared_experts", m.n_shared_experts},
              {"n_activated_experts", m.num_experts_per_tok},
              {"score_func", "sqrtsoftplus"},
              {"route_scale", m.routed_scaling_factor},
              {"swiglu_limit", m.swiglu_limit},
              {"q_lora_rank", m.q_lora_rank},
              {"head_dim", m.head_dim},
              {"rope_head_dim", m.qk_rope_head_dim},
              {"norm_eps", m.rms_norm_eps},
              {"o_groups", m.o_groups},
              {"o_lora_rank", m.o_lora_rank},
              {"window_size", m.sliding_window},
              {"kv_source_layers", s.kv_source_layer_ids},
              {"index_source_layers", s.index_source_layer_ids},
              {"original_seq_len", m.original_max_position_embeddings},
              {"rope_theta", JsonNumber(m.rope_theta)},
              {"rope_factor", JsonNumber(m.rope_factor)},
              {"beta_fast", JsonNumber(m.beta_fast)},
              {"beta_slow", JsonNumber(m.beta_slow)},
              {"index_n_heads", m.index_n_heads},
              {"index_head_dim", m.index_head_dim},
              {"index_topk", m.index_topk},
              {"candidate_source_layer", s.candidate_source_layer_id},
              {"candidate_topk_blocks", s.candidate_topk_blocks},
              {"candidate_block_size", s.candidate_block_size},
              {"hc_mult", m.hc_mult},
              {"hc_sinkhorn_iters", m.hc_sinkhorn_iters},
              {"hc_eps", m.hc_eps},
              {"engram_layer_ids", s.engram_layer_ids},
              {"engram_vocab_size", s.engram_vocab_size > 0 ? s.engram_vocab_size : derived.compressed_vocab},
              {"engram_num_embeddings", derived.engram_rows},
              {"engram_max_ngram_size", s.engram_max_ngram_size},
              {"engram_pad_id", 2},
              {"engram_compressed_vocab_size", derived.compressed_vocab},
              {"compress_rope_theta", JsonNumber(m.compress_rope_theta)},
              {"compress_ratios", m.compress_ratios},
              {"vision_n_layers", s.vision_layers},
              {"vision_dim", s.vision_hidden_size},
              {"vision_n_heads", s.vision_heads},
              {"vision_inter_dim", s.vision_intermediate_size},
              {"vision_patch_size", s.patch_size},
              {"vision_downsample_ratio", s.downsample_ratio},
              {"vision_max_n_token", s.max_image_tokens},
              {"vision_min_pixels", s.min_pixels},
              {"vision_max_wh_ratio", nullptr},
              {"image_token_id", derived.image_token_id},
              {"engram_n_heads", s.engram_n_heads},
              {"engram_head_dim", s.engram_head_dim},
              {"vision_rope_theta", s.vision_rope_theta},
              {"gate_temp", s.gate_temp},
              {"dtype", "fp8"},
              {"expert_dtype", m.expert_dtype}};
}

}  // namespace

void WriteTinyV41Checkpoint(const TinyV41Spec& spec, const std::string& dir, ProgressFn progress) {
  Validate(spec);
  const ExtraToken extra[] = {{"<｜System｜>", /*special=*/false}, {kImageToken, /*special=*/true}};
  const std::string tokenizer_json = BuildTokenizerJson(spec.text.vocab_size, extra);
  const Derived derived = Derive(spec, tokenizer_json);
  const std::string config = ConfigJson(spec, derived).dump(2) + "\n";
  model::ParseConfig(config, dir + "/config.json");

  const std::filesystem::path root = CreateFolder(dir);

  WriteShards(DescribeCheckpoint(spec, derived), spec.text.num_shards, spec.text.seed, spec.text.n_routed_experts, root,
              progress);
  WriteTextFile(root / "config.json", config);
  WriteTextFile(root / "inference_config.json", InferenceConfigJson(spec, derived).dump(4) + "\n");
  WriteTextFile(root / "tokenizer.json", tokenizer_json);
  WriteTextFile(root / "tokenizer_config.json", BuildTokenizerConfigJson());
}

}  // namespace deepseek::tinygen

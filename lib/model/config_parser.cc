#include "model/config_parser.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "model/layer_kv.h"

namespace deepseek::model {
namespace {

using nlohmann::json;

// The fields of one JSON object of config.json; errors name the field with its path.
class Fields {
 public:
  Fields(const json& obj, const std::string& file, std::string prefix = "")
      : obj_(obj), file_(file), prefix_(std::move(prefix)) {}

  [[noreturn]] void Bad(const std::string& field, const std::string& why) const {
    Fail(StatusCode::kInvalidConfig, file_ + ": field '" + prefix_ + field + "' " + why);
  }

  bool Has(const std::string& field) const {
    auto it = obj_.find(field);
    return it != obj_.end() && !it->is_null();
  }

  const json& Get(const std::string& field) const {
    if (!Has(field)) Bad(field, "is missing");
    return *obj_.find(field);
  }

  // A nested object's fields ("rope_scaling" → errors name "rope_scaling.factor").
  Fields Object(const std::string& field) const {
    const json& v = Get(field);
    if (!v.is_object()) Bad(field, "must be an object");
    return Fields(v, file_, prefix_ + field + ".");
  }

  template <typename T>
  T Int(const std::string& field, T lo, T hi) const {
    return static_cast<T>(CheckInt(field, Get(field), static_cast<int64_t>(lo), static_cast<int64_t>(hi)));
  }

  template <typename T>
  T IntOr(const std::string& field, T fallback, T lo, T hi) const {
    return Has(field) ? Int<T>(field, lo, hi) : fallback;
  }

  template <typename T>
  std::vector<T> IntList(const std::string& field, T lo, T hi) const {
    const json& v = Get(field);
    if (!v.is_array()) Bad(field, "must be an array");
    std::vector<T> out;
    for (const json& x : v) out.push_back(static_cast<T>(CheckInt(field, x, static_cast<int64_t>(lo), static_cast<int64_t>(hi))));
    return out;
  }

  double Real(const std::string& field, double lo, double hi) const {
    const json& v = Get(field);
    if (!v.is_number()) Bad(field, "must be a number");
    const double x = v.get<double>();
    if (!(x >= lo && x <= hi)) Bad(field, "= " + v.dump() + " is outside its valid range");
    return x;
  }

  double RealOr(const std::string& field, double fallback, double lo, double hi) const {
    return Has(field) ? Real(field, lo, hi) : fallback;
  }

  std::string Str(const std::string& field) const {
    const json& v = Get(field);
    if (!v.is_string()) Bad(field, "must be a string");
    return v.get<std::string>();
  }

  std::string StrOr(const std::string& field, const std::string& fallback) const { return Has(field) ? Str(field) : fallback; }

  bool Bool(const std::string& field, bool fallback) const {
    if (!Has(field)) return fallback;
    const json& v = Get(field);
    if (!v.is_boolean()) Bad(field, "must be true or false");
    return v.get<bool>();
  }

 private:
  int64_t CheckInt(const std::string& field, const json& v, int64_t lo, int64_t hi) const {
    if (!v.is_number_integer()) Bad(field, v.is_array() ? "entries must be integers" : "must be an integer");
    const int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) Bad(field, "= " + std::to_string(x) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return x;
  }

  const json& obj_;
  const std::string& file_;
  std::string prefix_;
};

constexpr int kMaxLayers = 1024;
constexpr int64_t kMaxDim = 1 << 20;

// The V4 model_types this build knows, by family.
constexpr std::string_view kV4Type = "deepseek_v4", kV41Type = "deepseek_v41";

// The fields of the text model, common to both families (V4: the top level; V4.1: text_config).
void ParseText(const Fields& f, ModelFamily family, ModelConfig& c) {
  c.vocab_size = f.Int<int64_t>("vocab_size", 2, 1 << 24);
  c.dim = f.Int<int64_t>("hidden_size", 32, kMaxDim);
  c.n_layers = f.Int<int>("num_hidden_layers", 1, kMaxLayers);
  c.n_mtp_layers = f.Int<int>("num_nextn_predict_layers", 0, 16);
  // V4.1 has no hash-routed layers (spec §8.5); V4 configs always say how many.
  c.n_hash_layers = family == ModelFamily::kV4 ? f.Int<int>("num_hash_layers", 0, kMaxLayers) : f.IntOr<int>("num_hash_layers", 0, 0, 0);
  c.n_heads = f.Int<int>("num_attention_heads", 1, 4096);
  c.head_dim = f.Int<int>("head_dim", 32, 4096);
  c.rope_dim = f.Int<int>("qk_rope_head_dim", 2, 4096);
  c.q_lora_rank = f.Int<int>("q_lora_rank", 1, 1 << 20);
  c.o_groups = f.Int<int>("o_groups", 1, 4096);
  c.o_lora_rank = f.Int<int>("o_lora_rank", 1, 1 << 20);
  c.window = f.Int<int>("sliding_window", 1, 1 << 20);
  c.compress_ratios = f.IntList<int>("compress_ratios", 0, 1 << 20);
  c.rope_theta = f.Real("rope_theta", 1, 1e12);
  c.compress_rope_theta = f.Real("compress_rope_theta", 1, 1e12);
  const Fields scaling = f.Object("rope_scaling");
  c.rope_factor = scaling.Real("factor", 1, 1e6);
  c.rope_original_len = scaling.Int<int64_t>("original_max_position_embeddings", 1, int64_t{1} << 40);
  c.beta_fast = scaling.Real("beta_fast", 1e-6, 1e6);
  c.beta_slow = scaling.Real("beta_slow", 1e-6, 1e6);
  c.max_positions = f.Int<int64_t>("max_position_embeddings", 1, int64_t{1} << 40);
  c.index_heads = f.Int<int>("index_n_heads", 1, 4096);
  c.index_head_dim = f.Int<int>("index_head_dim", 32, 4096);
  c.index_topk = f.Int<int>("index_topk", 1, 1 << 24);
  c.n_experts = f.Int<int>("n_routed_experts", 1, 1 << 16);
  c.n_active_experts = f.Int<int>("num_experts_per_tok", 1, 1 << 16);
  c.n_shared_experts = f.Int<int>("n_shared_experts", 0, 16);
  c.moe_inter_dim = f.Int<int64_t>("moe_intermediate_size", 32, kMaxDim);
  c.scoring_func = f.Str("scoring_func");
  c.route_scale = f.Real("routed_scaling_factor", 0, 1e6);
  c.swiglu_limit = f.Real("swiglu_limit", 0, 1e9);
  c.norm_topk_prob = f.Bool("norm_topk_prob", true);
  c.hc_mult = f.Int<int>("hc_mult", 1, 64);
  c.hc_sinkhorn_iters = f.Int<int>("hc_sinkhorn_iters", 1, 1000);
  c.hc_eps = f.Real("hc_eps", 0, 1);
  c.norm_eps = f.Real("rms_norm_eps", 0, 1);
}

// quantization_config: the dense FP8 block (square) and, in V4.1, the experts' dtype.
void ParseQuantization(const Fields& root, ModelConfig& c) {
  if (!root.Has("quantization_config")) return;
  const Fields q = root.Object("quantization_config");
  if (q.Has("weight_block_size")) {
    const std::vector<int> block = q.IntList<int>("weight_block_size", 1, 4096);
    if (block.size() != 2 || block[0] != block[1]) q.Bad("weight_block_size", "must be a square block [b, b]");
    c.fp8_block = block[0];
  }
  if (c.expert_dtype.empty()) c.expert_dtype = q.StrOr("expert_dtype", "");
}

// V4.1's CSA2 layer roles, router temperature and Engram (text_config, spec §2.5).
void ParseV41Text(const Fields& t, ModelConfig& c) {
  c.kv_source_layers = t.IntList<int>("kv_source_layer_ids", 0, kMaxLayers);
  c.index_source_layers = t.IntList<int>("index_source_layer_ids", 0, kMaxLayers);
  c.candidate_source_layer = t.IntOr<int>("candidate_source_layer_id", -1, 0, kMaxLayers);
  if (c.candidate_source_layer >= 0) {
    c.candidate_topk_blocks = t.Int<int>("candidate_topk_blocks", 1, 1 << 24);
    c.candidate_block_size = t.Int<int>("candidate_block_size", 1, 1 << 16);
  }
  c.gate_temp = t.RealOr("gate_temp", 1.0, 1e-6, 1e6);
  if (t.Has("engram_layer_ids")) {
    EngramConfig& e = c.engram;
    e.layer_ids = t.IntList<int>("engram_layer_ids", 0, kMaxLayers);
    e.num_embeddings = t.IntList<int64_t>("engram_num_embeddings", 1, int64_t{1} << 40);
    e.max_ngram = t.Int<int>("engram_max_ngram_size", 2, 16);
    e.heads = t.Int<int>("engram_n_heads", 1, 64);
    e.head_dim = t.Int<int>("engram_head_dim", 32, 1 << 16);
    e.vocab_size = t.Int<int64_t>("engram_vocab_size", 2, int64_t{1} << 40);
    e.compressed_vocab = t.Int<int64_t>("engram_compressed_vocab_size", 1, int64_t{1} << 29);
  }
}

void ParseVision(const Fields& root, ModelConfig& c) {
  if (!root.Has("vision_config")) return;
  const Fields v = root.Object("vision_config");
  VisionConfig& s = c.vision;
  s.n_layers = v.Int<int>("num_hidden_layers", 1, kMaxLayers);
  s.dim = v.Int<int64_t>("hidden_size", 1, kMaxDim);
  s.n_heads = v.Int<int>("num_attention_heads", 1, 4096);
  s.inter_dim = v.Int<int64_t>("intermediate_size", 1, kMaxDim);
  s.patch_size = v.Int<int>("patch_size", 1, 4096);
  s.rope_theta = v.Real("rope_theta", 1, 1e12);
  s.downsample_ratio = v.Int<int>("downsample_ratio", 1, 64);
  s.max_image_tokens = v.Int<int64_t>("max_image_tokens", 1, int64_t{1} << 24);
  s.min_pixels = v.Int<int64_t>("min_pixels", 1, int64_t{1} << 40);
  s.max_wh_ratio = v.RealOr("max_wh_ratio", 0, 1, 1e6);
  if (s.dim % s.n_heads != 0) v.Bad("hidden_size", "must be a multiple of num_attention_heads");
}

// Layer lists: ascending, within the main layers, on compressed layers.
void CheckLayerList(const Fields& f, const std::string& field, const std::vector<int>& layers, const ModelConfig& c) {
  for (size_t i = 0; i < layers.size(); ++i) {
    if (layers[i] >= c.n_layers || (i > 0 && layers[i] <= layers[i - 1])) {
      f.Bad(field, "must be ascending layer indices below num_hidden_layers = " + std::to_string(c.n_layers));
    }
  }
}

void ValidateCommon(const ModelConfig& c, const Fields& f) {
  if (c.rope_dim % 2 != 0 || c.rope_dim >= c.head_dim) f.Bad("qk_rope_head_dim", "must be even and below head_dim");
  if (c.n_heads % c.o_groups != 0) f.Bad("o_groups", "must divide num_attention_heads");
  if (c.compress_ratios.size() != static_cast<size_t>(c.n_layers + c.n_mtp_layers)) {
    f.Bad("compress_ratios", "has " + std::to_string(c.compress_ratios.size()) +
                                 " entries, expected num_hidden_layers + num_nextn_predict_layers = " +
                                 std::to_string(c.n_layers + c.n_mtp_layers));
  }
  for (int i = 0; i < c.n_mtp_layers; ++i) {
    if (c.compress_ratios[static_cast<size_t>(c.n_layers + i)] != 0) f.Bad("compress_ratios", "MTP layers must be window-only (ratio 0)");
  }
  if (c.n_hash_layers > c.n_layers) f.Bad("num_hash_layers", "exceeds num_hidden_layers");
  if (c.n_active_experts > c.n_experts) f.Bad("num_experts_per_tok", "exceeds n_routed_experts");
  if (c.n_shared_experts != 1) f.Bad("n_shared_experts", "must be 1 (as in every V4 release)");
  if (c.scoring_func != "sqrtsoftplus") f.Bad("scoring_func", "= '" + c.scoring_func + "' is not supported (sqrtsoftplus)");
  if (c.index_head_dim & (c.index_head_dim - 1)) f.Bad("index_head_dim", "must be a power of two (Hadamard transform)");
  if (c.index_head_dim % 32 != 0 || c.index_head_dim <= c.rope_dim) f.Bad("index_head_dim", "must be a multiple of 32 above qk_rope_head_dim");
  if (c.dim % 32 != 0 || c.moe_inter_dim % 32 != 0) f.Bad("hidden_size", "and moe_intermediate_size must be multiples of 32 (MXFP4 blocks)");
  if (!c.expert_dtype.empty() && c.expert_dtype != "fp4" && c.expert_dtype != "fp8") f.Bad("expert_dtype", "must be fp4 or fp8");
}

void ValidateV4(const ModelConfig& c, const Fields& f) {
  if (c.head_dim < 128) f.Bad("head_dim", "= " + std::to_string(c.head_dim) + " is below 128");
  if ((c.head_dim - c.rope_dim) % 64 != 0) f.Bad("head_dim", "minus qk_rope_head_dim must be a multiple of 64 (FP8 KV blocks)");
  for (int r : c.compress_ratios) {
    if (r == 1) f.Bad("compress_ratios", "entries must be 0 or at least 2");
  }
  if (c.fp8_block != 128) f.Bad("quantization_config.weight_block_size", "must be [128, 128] in a V4 checkpoint");
}

void ValidateV41(const ModelConfig& c, const Fields& t) {
  // Window rows are FP8 per 32 over all dims, compressed rows NVFP4 per 16 (spec §8.9).
  if (c.head_dim % 32 != 0) t.Bad("head_dim", "must be a multiple of 32 (FP8 window rows per 32)");
  CheckLayerList(t, "kv_source_layer_ids", c.kv_source_layers, c);
  CheckLayerList(t, "index_source_layer_ids", c.index_source_layers, c);
  const auto contains = [](const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); };
  for (int l : c.kv_source_layers) {
    if (c.ratio(l) == 0) t.Bad("kv_source_layer_ids", "names window-only layer " + std::to_string(l));
  }
  for (int l : c.index_source_layers) {
    if (c.ratio(l) == 0) t.Bad("index_source_layer_ids", "names window-only layer " + std::to_string(l));
  }
  if (c.candidate_source_layer >= 0 && !contains(c.index_source_layers, c.candidate_source_layer)) {
    t.Bad("candidate_source_layer_id", "= " + std::to_string(c.candidate_source_layer) + " is not an index source");
  }
  // Every compressed layer reads the caches of the latest KV source at or before it, of its
  // ratio. A selection names entries of a cache, so it attends the selection of an index source
  // reading that cache; candidate blocks likewise name entries of one cache.
  const std::vector<LayerKv> plan = PlanLayerKv(c);
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerKv& k = plan[static_cast<size_t>(l)];
    if (k.ratio == 0) continue;
    if (k.cache_layer < 0 || c.ratio(k.cache_layer) != k.ratio) {
      t.Bad("kv_source_layer_ids", "leave layer " + std::to_string(l) + " (ratio " + std::to_string(k.ratio) +
                                       ") without a KV source of its ratio at or before it");
    }
    if (k.selection_layer < 0 || plan[static_cast<size_t>(k.selection_layer)].cache_layer != k.cache_layer) {
      t.Bad("index_source_layer_ids", "leave layer " + std::to_string(l) + " without an index source at or before it "
                                          "that reads its KV source " + std::to_string(k.cache_layer));
    }
    if (k.uses_candidates && plan[static_cast<size_t>(c.candidate_source_layer)].cache_layer != k.cache_layer) {
      t.Bad("candidate_source_layer_id", "= " + std::to_string(c.candidate_source_layer) + " reads another cache than index source " +
                                             std::to_string(l) + " after it");
    }
  }
  if (c.index_head_dim % 32 != 0) t.Bad("index_head_dim", "must be a multiple of 32 (MXFP4 index keys)");
  const EngramConfig& e = c.engram;
  if (!e.layer_ids.empty()) {
    CheckLayerList(t, "engram_layer_ids", e.layer_ids, c);
    if (e.num_embeddings.size() != e.layer_ids.size()) t.Bad("engram_num_embeddings", "needs one entry per Engram layer");
    if (e.head_dim % 32 != 0) t.Bad("engram_head_dim", "must be a multiple of 32 (FP8 rows with per-32 scales)");
  }
}

}  // namespace

ModelConfig ParseConfig(const std::string& json_text, const std::string& file_label) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    Fail(StatusCode::kInvalidConfig, file_label + ": not valid JSON: " + e.what());
  }
  if (!root.is_object()) Fail(StatusCode::kInvalidConfig, file_label + ": top level is not a JSON object");
  const Fields f(root, file_label);

  ModelConfig c;
  c.model_type = f.Str("model_type");
  if (c.model_type == kV4Type) {
    c.family = ModelFamily::kV4;
  } else if (c.model_type == kV41Type) {
    c.family = ModelFamily::kV41;
  } else {
    f.Bad("model_type", "= '" + c.model_type + "' is not a DeepSeek V4 family model (deepseek_v4, deepseek_v41)");
  }
  c.bos_token_id = f.Int<int>("bos_token_id", 0, 1 << 24);
  c.eos_token_id = f.Int<int>("eos_token_id", 0, 1 << 24);
  c.expert_dtype = f.StrOr("expert_dtype", "");
  ParseQuantization(f, c);
  if (c.family == ModelFamily::kV4) {
    ParseText(f, c.family, c);
    ValidateCommon(c, f);
    ValidateV4(c, f);
  } else {
    const Fields t = f.Object("text_config");
    ParseText(t, c.family, c);
    ParseV41Text(t, c);
    c.pad_token_id = f.Int<int>("pad_token_id", 0, 1 << 24);
    c.image_token_id = f.IntOr<int>("image_token_id", -1, 0, 1 << 24);
    ParseVision(f, c);
    ValidateCommon(c, t);
    ValidateV41(c, t);
    if (c.pad_token_id >= c.vocab_size || c.image_token_id >= c.vocab_size) f.Bad("pad_token_id", "or image_token_id is outside the vocabulary");
  }
  if (c.bos_token_id >= c.vocab_size || c.eos_token_id >= c.vocab_size) f.Bad("bos_token_id", "or eos_token_id is outside the vocabulary");
  return c;
}

ModelConfig LoadConfig(const std::string& dir) {
  const std::string path = dir + "/config.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(StatusCode::kNotFound, "cannot open '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path);
}

}  // namespace deepseek::model

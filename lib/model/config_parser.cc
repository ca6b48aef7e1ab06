#include "model/config_parser.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

namespace deepseek::model {
namespace {

using nlohmann::json;

class Fields {
 public:
  Fields(const json& root, const std::string& file) : root_(root), file_(file) {}

  [[noreturn]] void Bad(const std::string& field, const std::string& why) const {
    Fail(StatusCode::kInvalidConfig, file_ + ": field '" + field + "' " + why);
  }

  const json& Get(const json& obj, const std::string& field, const std::string& path) const {
    auto it = obj.find(field);
    if (it == obj.end() || it->is_null()) Bad(path, "is missing");
    return *it;
  }

  template <typename T>
  T Int(const std::string& field, T lo, T hi) const { return IntIn(root_, field, field, lo, hi); }

  template <typename T>
  T IntIn(const json& obj, const std::string& field, const std::string& path, T lo, T hi) const {
    const json& v = Get(obj, field, path);
    if (!v.is_number_integer()) Bad(path, "must be an integer");
    const int64_t x = v.get<int64_t>();
    if (x < static_cast<int64_t>(lo) || x > static_cast<int64_t>(hi)) {
      Bad(path, "= " + std::to_string(x) + " is outside [" + std::to_string(lo) + ", " +
                    std::to_string(hi) + "]");
    }
    return static_cast<T>(x);
  }

  double Real(const std::string& field, double lo, double hi) const { return RealIn(root_, field, field, lo, hi); }

  double RealIn(const json& obj, const std::string& field, const std::string& path, double lo, double hi) const {
    const json& v = Get(obj, field, path);
    if (!v.is_number()) Bad(path, "must be a number");
    const double x = v.get<double>();
    if (!(x >= lo && x <= hi)) Bad(path, "= " + v.dump() + " is outside its valid range");
    return x;
  }

  std::string Str(const std::string& field) const {
    const json& v = Get(root_, field, field);
    if (!v.is_string()) Bad(field, "must be a string");
    return v.get<std::string>();
  }

  bool Bool(const std::string& field, bool fallback) const {
    auto it = root_.find(field);
    if (it == root_.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) Bad(field, "must be true or false");
    return it->get<bool>();
  }

  const json& root() const { return root_; }

 private:
  const json& root_;
  const std::string& file_;
};

constexpr int kMaxLayers = 1024;
constexpr int64_t kMaxDim = 1 << 20;

void Validate(const ModelConfig& c, const Fields& f) {
  if (c.model_type != "deepseek_v4") f.Bad("model_type", "= '" + c.model_type + "' is not deepseek_v4");
  if (c.rope_dim % 2 != 0 || c.rope_dim >= c.head_dim) f.Bad("qk_rope_head_dim", "must be even and below head_dim");
  if ((c.head_dim - c.rope_dim) % 64 != 0) f.Bad("head_dim", "minus qk_rope_head_dim must be a multiple of 64 (FP8 KV blocks)");
  if (c.n_heads % c.o_groups != 0) f.Bad("o_groups", "must divide num_attention_heads");
  if (c.compress_ratios.size() != static_cast<size_t>(c.n_layers + c.n_mtp_layers)) {
    f.Bad("compress_ratios", "has " + std::to_string(c.compress_ratios.size()) +
                                 " entries, expected num_hidden_layers + num_nextn_predict_layers = " +
                                 std::to_string(c.n_layers + c.n_mtp_layers));
  }
  for (int r : c.compress_ratios) {
    if (r < 0 || r == 1 || r > 65536) f.Bad("compress_ratios", "entries must be 0 or at least 2");
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
  if (c.bos_token_id >= c.vocab_size || c.eos_token_id >= c.vocab_size) f.Bad("bos_token_id", "or eos_token_id is outside the vocabulary");
  if (!c.expert_dtype.empty() && c.expert_dtype != "fp4" && c.expert_dtype != "fp8") f.Bad("expert_dtype", "must be fp4 or fp8");
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
  c.vocab_size = f.Int<int64_t>("vocab_size", 2, 1 << 24);
  c.dim = f.Int<int64_t>("hidden_size", 32, kMaxDim);
  c.n_layers = f.Int<int>("num_hidden_layers", 1, kMaxLayers);
  c.n_mtp_layers = f.Int<int>("num_nextn_predict_layers", 0, 16);
  c.n_hash_layers = f.Int<int>("num_hash_layers", 0, kMaxLayers);
  c.n_heads = f.Int<int>("num_attention_heads", 1, 4096);
  c.head_dim = f.Int<int>("head_dim", 128, 4096);
  c.rope_dim = f.Int<int>("qk_rope_head_dim", 2, 4096);
  c.q_lora_rank = f.Int<int>("q_lora_rank", 1, 1 << 20);
  c.o_groups = f.Int<int>("o_groups", 1, 4096);
  c.o_lora_rank = f.Int<int>("o_lora_rank", 1, 1 << 20);
  c.window = f.Int<int>("sliding_window", 1, 1 << 20);
  const json& ratios = f.Get(root, "compress_ratios", "compress_ratios");
  if (!ratios.is_array()) f.Bad("compress_ratios", "must be an array");
  for (const json& r : ratios) {
    if (!r.is_number_integer()) f.Bad("compress_ratios", "entries must be integers");
    c.compress_ratios.push_back(static_cast<int>(std::clamp<int64_t>(r.get<int64_t>(), -1, 1 << 20)));
  }
  c.rope_theta = f.Real("rope_theta", 1, 1e12);
  c.compress_rope_theta = f.Real("compress_rope_theta", 1, 1e12);
  const json& scaling = f.Get(root, "rope_scaling", "rope_scaling");
  if (!scaling.is_object()) f.Bad("rope_scaling", "must be an object");
  c.rope_factor = f.RealIn(scaling, "factor", "rope_scaling.factor", 1, 1e6);
  c.rope_original_len = f.IntIn<int64_t>(scaling, "original_max_position_embeddings",
                                         "rope_scaling.original_max_position_embeddings", 1, int64_t{1} << 40);
  c.beta_fast = f.RealIn(scaling, "beta_fast", "rope_scaling.beta_fast", 1e-6, 1e6);
  c.beta_slow = f.RealIn(scaling, "beta_slow", "rope_scaling.beta_slow", 1e-6, 1e6);
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
  c.bos_token_id = f.Int<int>("bos_token_id", 0, 1 << 24);
  c.eos_token_id = f.Int<int>("eos_token_id", 0, 1 << 24);
  if (auto it = root.find("expert_dtype"); it != root.end() && !it->is_null()) {
    if (!it->is_string()) f.Bad("expert_dtype", "must be a string");
    c.expert_dtype = it->get<std::string>();
  }
  Validate(c, f);
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

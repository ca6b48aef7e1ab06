// Models: loading with progress, configuration, destruction.
#include "internal.h"

namespace deepseek::capi {
namespace {

ds_model_config ToConfig(const ds_model& handle) {
  const ModelConfig& c = handle.model->config();
  ds_model_config out{};
  out.struct_size = sizeof out;
  out.model_type = c.model_type.c_str();
  out.vocab_size = c.vocab_size;
  out.hidden_size = c.dim;
  out.n_layers = c.n_layers;
  out.n_mtp_layers = c.n_mtp_layers;
  out.n_hash_layers = c.n_hash_layers;
  out.n_heads = c.n_heads;
  out.head_dim = c.head_dim;
  out.rope_dim = c.rope_dim;
  out.q_lora_rank = c.q_lora_rank;
  out.o_groups = c.o_groups;
  out.o_lora_rank = c.o_lora_rank;
  out.window = c.window;
  out.compress_ratios = handle.compress_ratios.data();
  out.n_compress_ratios = handle.compress_ratios.size();
  out.rope_theta = c.rope_theta;
  out.compress_rope_theta = c.compress_rope_theta;
  out.rope_factor = c.rope_factor;
  out.rope_original_len = c.rope_original_len;
  out.beta_fast = c.beta_fast;
  out.beta_slow = c.beta_slow;
  out.max_positions = c.max_positions;
  out.index_heads = c.index_heads;
  out.index_head_dim = c.index_head_dim;
  out.index_topk = c.index_topk;
  out.n_experts = c.n_experts;
  out.n_active_experts = c.n_active_experts;
  out.n_shared_experts = c.n_shared_experts;
  out.moe_inter_dim = c.moe_inter_dim;
  out.scoring_func = c.scoring_func.c_str();
  out.route_scale = c.route_scale;
  out.swiglu_limit = c.swiglu_limit;
  out.norm_topk_prob = c.norm_topk_prob ? 1 : 0;
  out.hc_mult = c.hc_mult;
  out.hc_sinkhorn_iters = c.hc_sinkhorn_iters;
  out.bos_token_id = c.bos_token_id;
  out.hc_eps = c.hc_eps;
  out.norm_eps = c.norm_eps;
  out.eos_token_id = c.eos_token_id;
  out.expert_dtype = c.expert_dtype.c_str();
  out.weight_bytes = handle.model->weight_bytes();
  return out;
}

}  // namespace
}  // namespace deepseek::capi

using namespace deepseek::capi;

extern "C" {

void ds_model_load_params_init(ds_model_load_params* params) DS_NOEXCEPT {
  if (!params) return;
  *params = ds_model_load_params{};
  params->struct_size = sizeof *params;
}

ds_status ds_model_load(const char* dir, const ds_model_load_params* params, ds_model** out) DS_NOEXCEPT {
  return Guard([&] {
    Require(out, "out");
    Require(dir, "dir");
    const ds_model_load_params p = ReadStruct(params, ds_model_load_params_init, "ds_model_load_params");
    deepseek::LoadOptions options;
    if (p.progress) {
      options.progress = [p](float fraction, std::string_view stage) {
        const std::string name(stage);  // the C callback wants a NUL-terminated string
        p.progress(fraction, name.c_str(), p.progress_user_data);
      };
    }
    auto handle = std::make_unique<ds_model>();
    handle->model = Unwrap(deepseek::Model::Load(dir, options));
    const std::vector<int>& ratios = handle->model->config().compress_ratios;
    handle->compress_ratios.assign(ratios.begin(), ratios.end());
    *out = handle.release();
  });
}

void ds_model_destroy(ds_model* model) DS_NOEXCEPT { delete model; }

ds_status ds_model_get_config(const ds_model* model, ds_model_config* config) DS_NOEXCEPT {
  return Guard([&] { WriteStruct(ToConfig(*Require(model, "model")), config, "ds_model_config"); });
}

}  // extern "C"

// KV caches: creation with a budget, statistics, and the model's KV size figures.
#include "internal.h"

using namespace deepseek::capi;

extern "C" {

void ds_kv_cache_params_init(ds_kv_cache_params* params) DS_NOEXCEPT {
  if (!params) return;
  *params = ds_kv_cache_params{};
  params->struct_size = sizeof *params;
  params->budget_bytes = deepseek::KvCacheOptions{}.budget_bytes;
}

ds_status ds_kv_cache_create(const ds_model* model, const ds_kv_cache_params* params, ds_kv_cache** out) DS_NOEXCEPT {
  return Guard([&] {
    Require(out, "out");
    Require(model, "model");
    const ds_kv_cache_params p = ReadStruct(params, ds_kv_cache_params_init, "ds_kv_cache_params");
    deepseek::KvCacheOptions options;
    options.budget_bytes = p.budget_bytes;
    if (p.tier_dir) options.tier_dir = p.tier_dir;
    options.ram_bytes = p.ram_bytes;
    auto handle = std::make_unique<ds_kv_cache>();
    handle->cache = Unwrap(deepseek::KvCache::Create(model->model, options));
    *out = handle.release();
  });
}

void ds_kv_cache_destroy(ds_kv_cache* cache) DS_NOEXCEPT { delete cache; }

ds_status ds_kv_cache_get_stats(const ds_kv_cache* cache, ds_kv_cache_stats* stats) DS_NOEXCEPT {
  return Guard([&] {
    const deepseek::KvCache& c = *Require(cache, "cache")->cache;
    const deepseek::KvCacheStats s = c.stats();
    ds_kv_cache_stats out{};
    out.struct_size = sizeof out;
    out.budget_bytes = s.budget_bytes;
    out.bytes_in_use = s.bytes_in_use;
    out.bytes_storage = s.bytes_storage;
    out.tokens_available = c.tokens_available();
    out.bytes_tiered = s.bytes_tiered;
    WriteStruct(out, stats, "ds_kv_cache_stats");
  });
}

uint64_t ds_model_kv_bytes_for_tokens(const ds_model* model, int64_t tokens, int32_t with_mtp) DS_NOEXCEPT {
  return model ? model->model->KvBytesForTokens(tokens, with_mtp != 0) : 0;
}

int64_t ds_model_kv_tokens_for_bytes(const ds_model* model, uint64_t bytes, int32_t with_mtp) DS_NOEXCEPT {
  return model ? model->model->KvTokensForBytes(bytes, with_mtp != 0) : -1;
}

}  // extern "C"

// deepseek::KvCache: a backend KV memory with the model's pools, behind the public API.
#include "deepseek/kv_cache.h"

#include <algorithm>

#include "backends/backend.h"
#include "core/error.h"
#include "model/kv_pools.h"
#include "runtime/kv_cache_impl.h"

namespace deepseek {

KvCache::KvCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KvCache::~KvCache() = default;

Result<std::shared_ptr<KvCache>> KvCache::Create(std::shared_ptr<const Model> model, const KvCacheOptions& options) {
  std::shared_ptr<KvCache> cache;
  Status status = CatchAll([&] {
    if (!model) Fail(StatusCode::kInvalidArgument, "KvCache::Create: model is null");
    auto memory = backend::Registry::Get().Cpu().CreateKvMemory(options.budget_bytes);
    auto pools = model::CreateKvPools(model->config(), std::move(memory));
    cache.reset(new KvCache(std::make_unique<Impl>(Impl{std::move(model), std::move(pools)})));
  });
  if (!status.ok()) return status;
  return cache;
}

const std::shared_ptr<const Model>& KvCache::model() const { return impl_->model; }

KvCacheStats KvCache::stats() const {
  const backend::KvMemoryStats s = impl_->pools->memory->stats();
  KvCacheStats out{s.budget_bytes, s.bytes_in_use, s.bytes_storage, {}};
  for (const backend::KvMemoryStats::Pool& p : s.pools) {
    out.pools.push_back({p.name, p.row_bytes, p.rows_per_page, p.pages_in_use, p.pages_shared});
  }
  return out;
}

int64_t KvCache::tokens_available() const {
  const ModelConfig& c = impl_->model->config();
  const backend::KvMemory& memory = *impl_->pools->memory;
  if (memory.budget_bytes() == 0) return c.max_positions;
  const uint64_t used = memory.bytes_in_use();
  const uint64_t left = memory.budget_bytes() > used ? memory.budget_bytes() - used : 0;
  return std::min<int64_t>(c.max_positions, model::KvTokensForBytes(c, left, false));
}

}  // namespace deepseek

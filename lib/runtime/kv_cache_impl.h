// What a KvCache holds, for the runtime's sessions.
#pragma once

#include <memory>

#include "deepseek/kv_cache.h"
#include "model/kv_pools.h"

namespace deepseek {

struct KvCache::Impl {
  std::shared_ptr<const Model> model;
  std::shared_ptr<const model::KvPools> pools;
};

}  // namespace deepseek

// deepseek::KvCache: the memory that sessions keep their KV caches in — pools of pages in the
// packed formats of the V4 cache (584-byte latent rows, 68-byte MXFP4 indexer keys), with a
// byte budget. Sessions that share a KvCache share pages: a snapshot, a restore or a fork
// costs O(pages), not a copy. Thread-safe: any number of sessions, on any threads, may use one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "deepseek/model.h"
#include "deepseek/status.h"

namespace deepseek {

namespace model {
struct KvPools;
}

struct KvCacheOptions {
  // Bytes the pages may take, summed over every session using the cache; 0 = no limit. A
  // request that would need more fails with kResourceExhausted and leaves its session as it was.
  uint64_t budget_bytes = 0;
};

struct KvCacheStats {
  uint64_t budget_bytes = 0;   // 0: no limit
  uint64_t bytes_in_use = 0;   // pages referenced by sessions or snapshots (what the budget bounds)
  uint64_t bytes_storage = 0;  // memory set aside for pages, in use or free
  struct Pool {
    std::string name;          // "window", "compressed_r4", "compressed_r128", "index_keys"
    int64_t row_bytes = 0;
    int64_t rows_per_page = 0;
    int64_t pages_in_use = 0;
    int64_t pages_shared = 0;  // pages referenced more than once (shared prefixes, snapshots)
  };
  std::vector<Pool> pools;
};

class KvCache {
 public:
  static Result<std::shared_ptr<KvCache>> Create(std::shared_ptr<const Model> model, const KvCacheOptions& options = {});
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  const std::shared_ptr<const Model>& model() const;
  KvCacheStats stats() const;
  // Tokens one more sequence (without MTP) could grow to in what the budget has left (the
  // model's maximum when there is no budget).
  int64_t tokens_available() const;

 private:
  friend class Session;
  struct Impl;
  explicit KvCache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace deepseek

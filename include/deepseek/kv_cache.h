// deepseek::KvCache: the memory that sessions keep their KV caches in — pools of pages in the
// packed formats of the V4 cache (584-byte latent rows, 68-byte MXFP4 indexer keys), with a
// byte budget. Sessions that share a KvCache share pages: a snapshot, a restore or a fork
// costs O(pages), not a copy. Thread-safe: any number of sessions, on any threads, may use one.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "deepseek/model.h"
#include "deepseek/status.h"

namespace deepseek {

namespace model {
struct KvPools;
}
class SessionSnapshot;

struct KvCacheOptions {
  // Bytes the pages may take, summed over every session using the cache; 0 = no limit. A
  // request that would need more first drops cached prefixes (least recently used first),
  // then fails with kResourceExhausted and leaves its session as it was.
  uint64_t budget_bytes = 0;
  // The prefix cache: up to this many snapshots kept by the tokens they hold, so that any
  // session of this cache (a Generator's, a server request's) resumes a prompt from the longest
  // cached start of it instead of computing it again. 0 = off.
  size_t max_prefixes = 0;
  // With a folder, cached prefixes are also files there (one per prefix, written atomically),
  // and a cache created with the folder starts with the prefixes found in it: a restarted
  // process keeps them. Files of another model, or damaged ones, are skipped (see warnings()).
  std::string prefix_dir;
  // The disk tier, for contexts larger than the RAM to spare: with a folder, pages may live in
  // files there (memory-mapped, unlinked as they are made, so nothing outlives the cache). The
  // ratio-4 latents, of which the indexer picks a few per token, always go there; the other
  // pools, read in full at every token, stay in RAM up to ram_bytes of storage, then go there
  // too. The kernel keeps the file pages read recently in RAM while memory allows and writes
  // the others back. ram_bytes needs a tier_dir.
  std::string tier_dir;
  uint64_t ram_bytes = 0;
};

struct KvCacheStats {
  uint64_t budget_bytes = 0;   // 0: no limit
  uint64_t bytes_in_use = 0;   // pages referenced by sessions or snapshots (what the budget bounds)
  uint64_t bytes_storage = 0;  // memory set aside for pages, in use or free
  uint64_t bytes_tiered = 0;   // of those, in the disk tier
  int64_t prefixes = 0;        // cached prefixes held
  struct Pool {
    std::string name;          // "window", "compressed_r4", "compressed_r128", "index_keys"
    std::string row_format;    // "latent_fp8", "mxfp4" (V4); "fp8_per32", "nvfp4" (V4.1)
    int64_t row_bytes = 0;
    int64_t rows_per_page = 0;
    int64_t pages_in_use = 0;
    int64_t pages_shared = 0;  // pages referenced more than once (shared prefixes, snapshots)
    int64_t pages_tiered = 0;  // pages set aside in the disk tier
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

  // Keeps `snapshot` (of a session of this cache's model) as a cached prefix; a no-op when the
  // prefix cache is off. With prefix_dir, also writes its file.
  Status AddPrefix(const SessionSnapshot& snapshot);
  // The cached prefix with the most tokens, at most `max_tokens`, that begin `tokens`.
  std::optional<SessionSnapshot> FindPrefix(std::span<const int32_t> tokens, int64_t max_tokens) const;
  // Drops the least recently used cached prefix; false when there is none.
  bool EvictPrefix();
  // What went wrong loading prefix_dir at creation (one line per skipped file).
  const std::vector<std::string>& warnings() const;

  struct Impl;  // opaque: what the runtime keeps behind a cache

 private:
  friend class Session;
  explicit KvCache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace deepseek

// What a KvCache holds, for the runtime's sessions.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "core/thread_pool.h"
#include "deepseek/kv_cache.h"
#include "format/section_file.h"
#include "model/kv_pools.h"
#include "runtime/prefix_cache.h"

namespace deepseek {

struct KvCache::Impl {
  std::shared_ptr<const Model> model;
  std::shared_ptr<const model::KvPools> pools;
  format::Fingerprint fingerprint;  // of the model's checkpoint, named in prefix files
  // Prefix files are written and read on a stream of the cache's own (one thread).
  ThreadPool io_pool{1};
  std::unique_ptr<backend::Stream> io_stream;
  std::mutex io_mutex;  // the stream is used by one thread at a time
  std::unique_ptr<PrefixCache> prefixes;
  std::vector<std::string> warnings;
};

}  // namespace deepseek

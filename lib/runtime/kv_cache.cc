// deepseek::KvCache: a backend KV memory with the model's pools and the prefix cache, behind
// the public API.
#include "deepseek/kv_cache.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "deepseek/session.h"
#include "model/kv_pools.h"
#include "model/transformer.h"
#include "runtime/kv_cache_impl.h"
#include "runtime/snapshot_data.h"

namespace deepseek {
namespace {

namespace fs = std::filesystem;

// The prefixes saved in `dir` by an earlier cache of this model; others are reported.
void LoadPrefixes(KvCache::Impl& impl) {
  const std::string& dir = impl.prefixes->dir();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) Fail(StatusCode::kIoError, "prefix folder '" + dir + "': " + ec.message());
  std::vector<fs::path> files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".dskv") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    const Status status = CatchAll([&] {
      SequenceRecord record = LoadSequenceFile(file.string(), impl.model->config(), impl.fingerprint, impl.pools,
                                               *impl.io_stream);
      const uint64_t key = PrefixCache::Key(record.state.tokens);
      if (impl.prefixes->PathOf(key) != file.string()) {
        Fail(StatusCode::kCorruptFile, file.string() + ": its tokens belong to another file name");
      }
      impl.prefixes->Adopt(SnapshotAccess::Make(impl.model, std::move(record)));
    });
    if (!status.ok()) impl.warnings.push_back("skipped " + file.string() + ": " + status.ToString());
  }
}

}  // namespace

KvCache::KvCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KvCache::~KvCache() = default;

Result<std::shared_ptr<KvCache>> KvCache::Create(std::shared_ptr<const Model> model, const KvCacheOptions& options) {
  std::shared_ptr<KvCache> cache;
  Status status = CatchAll([&] {
    if (!model) Fail(StatusCode::kInvalidArgument, "KvCache::Create: model is null");
    if (!options.prefix_dir.empty() && options.max_prefixes == 0) {
      Fail(StatusCode::kInvalidArgument, "KvCacheOptions.prefix_dir needs max_prefixes > 0");
    }
    auto impl = std::make_unique<Impl>();
    impl->model = std::move(model);
    impl->fingerprint = impl->model->transformer().checkpoint().fingerprint();
    auto memory = backend::Registry::Get().Cpu().CreateKvMemory(
        {.budget_bytes = options.budget_bytes, .tier_dir = options.tier_dir, .fast_bytes = options.ram_bytes});
    impl->pools = model::CreateKvPools(impl->model->config(), std::move(memory));
    impl->io_stream = backend::Registry::Get().Cpu().CreateStream(impl->io_pool);
    Impl* raw = impl.get();
    impl->prefixes = std::make_unique<PrefixCache>(
        options.max_prefixes, options.prefix_dir, [raw](const SessionSnapshot& snapshot, const std::string& path) {
          const std::lock_guard<std::mutex> lock(raw->io_mutex);
          SaveSequenceFile(path, SnapshotAccess::Get(snapshot)->record, raw->fingerprint, *raw->io_stream);
        });
    if (!options.prefix_dir.empty()) LoadPrefixes(*impl);
    cache.reset(new KvCache(std::move(impl)));
  });
  if (!status.ok()) return status;
  return cache;
}

const std::shared_ptr<const Model>& KvCache::model() const { return impl_->model; }

KvCacheStats KvCache::stats() const {
  const backend::KvMemoryStats s = impl_->pools->memory->stats();
  KvCacheStats out{s.budget_bytes, s.bytes_in_use, s.bytes_storage, s.bytes_tiered,
                   static_cast<int64_t>(impl_->prefixes->size()), {}};
  for (size_t i = 0; i < s.pools.size(); ++i) {  // pool ids are their order of creation
    const backend::KvMemoryStats::Pool& p = s.pools[i];
    const char* format = backend::KvRowFormatName(impl_->pools->memory->pool(static_cast<backend::KvPoolId>(i)).row.format);
    out.pools.push_back({p.name, format, p.row_bytes, p.rows_per_page, p.pages_in_use, p.pages_shared, p.pages_tiered});
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

Status KvCache::AddPrefix(const SessionSnapshot& snapshot) {
  return CatchAll([&] {
    const auto* data = SnapshotAccess::Get(snapshot);
    if (!data) Fail(StatusCode::kInvalidArgument, "AddPrefix: the snapshot is empty");
    if (data->model != impl_->model) Fail(StatusCode::kInvalidArgument, "AddPrefix: the snapshot is of another model");
    if (&data->record.state.pools() != impl_->pools.get()) {
      Fail(StatusCode::kInvalidArgument, "AddPrefix: the snapshot's pages are in another KV cache");
    }
    const ModelConfig& c = data->model->config();
    const std::vector<int32_t>& tokens = data->record.state.tokens;
    if (c.family == ModelFamily::kV41 && std::find(tokens.begin(), tokens.end(), c.image_token_id) != tokens.end()) {
      Fail(StatusCode::kInvalidArgument, "AddPrefix: the snapshot holds an image span, whose tokens do not identify the image");
    }
    impl_->prefixes->Add(snapshot);
  });
}

std::optional<SessionSnapshot> KvCache::FindPrefix(std::span<const int32_t> tokens, int64_t max_tokens) const {
  return impl_->prefixes->Find(tokens, max_tokens);
}

bool KvCache::EvictPrefix() { return impl_->prefixes->EvictOne(); }

const std::vector<std::string>& KvCache::warnings() const { return impl_->warnings; }

}  // namespace deepseek

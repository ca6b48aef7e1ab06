#include "backends/cpu/kv_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "core/error.h"

namespace deepseek::backend::cpu {
namespace {

// "1536 bytes", "412.5 KiB", "3.25 MiB": enough digits to tell figures near a budget apart.
std::string Size(uint64_t bytes) {
  char text[32];
  if (bytes < 1024) std::snprintf(text, sizeof text, "%llu bytes", static_cast<unsigned long long>(bytes));
  else if (bytes < (1 << 20)) std::snprintf(text, sizeof text, "%.1f KiB", static_cast<double>(bytes) / 1024);
  else std::snprintf(text, sizeof text, "%.2f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

// A new file of `bytes` in the tier folder, already unlinked (it lives as long as its mapping,
// so a crash leaves nothing behind), with its disk blocks allocated: a full disk is an error
// here rather than a SIGBUS at the first write through the mapping. Returns the open file.
int CreateTierFile(const std::string& dir, size_t bytes, const std::string& pool) {
  std::string path = dir + "/deepseek-kv-XXXXXX";
  const int fd = mkstemp(path.data());
  if (fd < 0) {
    Fail(StatusCode::kIoError, "KV pool '" + pool + "': could not create a tier file in '" + dir + "': " + std::strerror(errno));
  }
  unlink(path.c_str());
  const int error = posix_fallocate(fd, 0, static_cast<off_t>(bytes));
  if (error != 0) {
    close(fd);
    Fail(StatusCode::kOutOfMemory, "KV pool '" + pool + "': could not allocate " + Size(bytes) + " in the tier folder '" +
                                       dir + "': " + std::strerror(error));
  }
  return fd;
}

// A slab of `bytes`: anonymous memory, or shared file pages in the tier folder.
uint8_t* MapSlab(size_t bytes, bool tiered, const std::string& dir, const std::string& pool) {
  void* data = MAP_FAILED;
  if (tiered) {
    const int fd = CreateTierFile(dir, bytes, pool);
    data = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);  // the mapping keeps the file
  } else {
    data = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  }
  if (data == MAP_FAILED) {
    Fail(StatusCode::kOutOfMemory, "KV pool '" + pool + "': could not map " + Size(bytes) + (tiered ? " of its tier file" : " of memory"));
  }
  return static_cast<uint8_t*>(data);
}

}  // namespace

CpuKvMemory::CpuKvMemory(const KvMemoryOptions& options) : options_(options) {
  if (options.tier_dir.empty()) {
    if (options.fast_bytes != 0) Fail(StatusCode::kInvalidArgument, "KV memory: fast_bytes needs a tier folder");
    return;
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(options.tier_dir, ec)) {
    Fail(StatusCode::kInvalidArgument, "KV memory: the tier folder '" + options.tier_dir + "' is not a folder");
  }
  close(CreateTierFile(options.tier_dir, 1, "(probe)"));  // writable, and takes a file
}

CpuKvMemory::~CpuKvMemory() {
  for (int i = 0; i < pool_count_.load(); ++i) {
    Pool& p = *pools_[static_cast<size_t>(i)];
    for (int s = 0; s < p.slab_count; ++s) {
      Slab* slab = p.slabs[static_cast<size_t>(s)].load();
      munmap(slab->data, slab->bytes);
      delete slab;
    }
  }
}

KvPoolId CpuKvMemory::AddPool(const KvPoolDesc& desc) {
  desc.row.Validate();
  if (desc.rows_per_page <= 0) {
    Fail(StatusCode::kInvalidArgument, "KV pool '" + desc.name + "': rows_per_page must be positive");
  }
  auto pool = std::make_unique<Pool>();
  pool->desc = desc;
  pool->page_bytes = desc.page_bytes();
  pool->pages_per_slab = static_cast<int>(std::max<int64_t>(1, kSlabBytes / pool->page_bytes));
  const std::lock_guard<std::mutex> lock(mutex_);
  const int id = pool_count_.load(std::memory_order_relaxed);
  if (id == kMaxPools) Fail(StatusCode::kInvalidArgument, "KV memory: more than " + std::to_string(kMaxPools) + " pools");
  pools_[static_cast<size_t>(id)] = std::move(pool);
  pool_count_.store(id + 1, std::memory_order_release);  // publishes the pool to readers
  return id;
}

const CpuKvMemory::Pool& CpuKvMemory::Get(KvPoolId id) const {
  if (id < 0 || id >= pool_count_.load(std::memory_order_acquire)) {
    Fail(StatusCode::kInvalidArgument, "KV memory: no pool " + std::to_string(id));
  }
  return *pools_[static_cast<size_t>(id)];
}

void CpuKvMemory::CheckPage(KvPoolId pool, KvPageId page) const {
  const Pool& p = Get(pool);
  const int slab = page >= 0 ? page / p.pages_per_slab : -1;
  if (slab < 0 || slab >= kMaxSlabs || p.slabs[static_cast<size_t>(slab)].load(std::memory_order_acquire) == nullptr) {
    Fail(StatusCode::kInvalidArgument, "KV pool '" + p.desc.name + "' has no page " + std::to_string(page));
  }
}

std::atomic<int32_t>& CpuKvMemory::Ref(const Pool& p, KvPageId page) const {
  const Slab* slab = p.slabs[static_cast<size_t>(page / p.pages_per_slab)].load(std::memory_order_acquire);
  return slab->refs[static_cast<size_t>(page % p.pages_per_slab)];
}

uint8_t* CpuKvMemory::Row(KvPoolId pool, KvPageId page, int64_t row) const {
  const Pool& p = *pools_[static_cast<size_t>(pool)];
  const Slab* slab = p.slabs[static_cast<size_t>(page / p.pages_per_slab)].load(std::memory_order_acquire);
  return slab->data + (page % p.pages_per_slab) * p.page_bytes + row * p.desc.row.bytes();
}

KvPageId CpuKvMemory::TakePage(Pool& p) {
  const uint64_t budget = options_.budget_bytes;
  if (budget && in_use_.load(std::memory_order_relaxed) + static_cast<uint64_t>(p.page_bytes) > budget) {
    Fail(StatusCode::kResourceExhausted,
         "KV memory budget of " + Size(budget) + " is exhausted: pool '" + p.desc.name + "' needs a page of " +
             std::to_string(p.page_bytes) + " bytes and " + Size(in_use_.load()) + " are in use");
  }
  if (p.free_pages.empty()) {
    if (p.slab_count == kMaxSlabs) Fail(StatusCode::kOutOfMemory, "KV pool '" + p.desc.name + "' has no more slabs");
    auto slab = std::make_unique<Slab>();
    slab->bytes = static_cast<size_t>(p.pages_per_slab * p.page_bytes);
    slab->tiered = NextSlabTiered(p);
    slab->data = MapSlab(slab->bytes, slab->tiered, options_.tier_dir, p.desc.name);
    if (slab->tiered) ++p.tiered_slabs;
    else fast_storage_ += slab->bytes;
    // Room for every page of the pool on the free list, so Release never allocates.
    p.free_pages.reserve(static_cast<size_t>((p.slab_count + 1) * p.pages_per_slab));
    slab->refs.reset(new std::atomic<int32_t>[static_cast<size_t>(p.pages_per_slab)]());
    const int first = p.slab_count * p.pages_per_slab;
    p.slabs[static_cast<size_t>(p.slab_count)].store(slab.release(), std::memory_order_release);
    ++p.slab_count;
    for (int i = p.pages_per_slab - 1; i >= 0; --i) p.free_pages.push_back(first + i);  // lowest id first
  }
  const KvPageId page = p.free_pages.back();
  p.free_pages.pop_back();
  Ref(p, page).store(1, std::memory_order_release);
  in_use_.fetch_add(static_cast<uint64_t>(p.page_bytes), std::memory_order_relaxed);
  ++p.pages_in_use;
  return page;
}

bool CpuKvMemory::NextSlabTiered(const Pool& p) const {
  if (options_.tier_dir.empty()) return false;
  if (p.desc.placement == KvPlacement::kSelected) return true;
  return fast_storage_ + static_cast<uint64_t>(p.pages_per_slab * p.page_bytes) > options_.fast_bytes;
}

KvPageId CpuKvMemory::Allocate(KvPoolId pool) {
  Get(pool);
  const std::lock_guard<std::mutex> lock(mutex_);
  return TakePage(*pools_[static_cast<size_t>(pool)]);
}

KvPageId CpuKvMemory::Duplicate(KvPoolId pool, KvPageId page) {
  CheckPage(pool, page);
  const KvPageId copy = Allocate(pool);
  std::memcpy(Row(pool, copy, 0), Row(pool, page, 0), static_cast<size_t>(Get(pool).page_bytes));
  return copy;
}

void CpuKvMemory::Retain(KvPoolId pool, KvPageId page) {
  CheckPage(pool, page);
  Ref(Get(pool), page).fetch_add(1, std::memory_order_relaxed);
}

void CpuKvMemory::Release(KvPoolId pool, KvPageId page) noexcept {
  Pool& p = *pools_[static_cast<size_t>(pool)];
  // acq_rel: the last owner's writes happen before the page is handed out again.
  if (Ref(p, page).fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  const std::lock_guard<std::mutex> lock(mutex_);
  p.free_pages.push_back(page);  // capacity was reserved when the slab was added
  in_use_.fetch_sub(static_cast<uint64_t>(p.page_bytes), std::memory_order_relaxed);
  --p.pages_in_use;
}

bool CpuKvMemory::Shared(KvPoolId pool, KvPageId page) const {
  CheckPage(pool, page);
  return Ref(Get(pool), page).load(std::memory_order_acquire) > 1;
}

KvMemoryStats CpuKvMemory::stats() const {
  KvMemoryStats s;
  s.budget_bytes = options_.budget_bytes;
  const std::lock_guard<std::mutex> lock(mutex_);
  for (int i = 0; i < pool_count_.load(); ++i) {
    const Pool& p = *pools_[static_cast<size_t>(i)];
    KvMemoryStats::Pool out{p.desc.name, p.desc.row.bytes(), p.desc.rows_per_page, p.pages_in_use, 0,
                            int64_t{p.slab_count} * p.pages_per_slab, int64_t{p.tiered_slabs} * p.pages_per_slab};
    for (int page = 0; page < out.pages_storage; ++page) out.pages_shared += Ref(p, page).load() > 1;
    s.bytes_in_use += static_cast<uint64_t>(out.pages_in_use * p.page_bytes);
    s.bytes_storage += static_cast<uint64_t>(out.pages_storage * p.page_bytes);
    s.bytes_tiered += static_cast<uint64_t>(out.pages_tiered * p.page_bytes);
    s.pools.push_back(std::move(out));
  }
  return s;
}

}  // namespace deepseek::backend::cpu

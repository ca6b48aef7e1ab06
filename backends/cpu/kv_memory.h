// The CPU device's KV memory: per pool, pages carved from 2 MiB mappings ("slabs") that are
// mapped on demand and kept for reuse; a free list per pool; atomic reference counts. A slab is
// anonymous memory, or in the slow tier a file of its own in the tier folder (unlinked at
// once, its disk blocks allocated up front), mapped shared: the kernel keeps the pages read
// recently in RAM and writes the others back to disk.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "backends/backend.h"

namespace deepseek::backend::cpu {

class CpuKvMemory final : public KvMemory {
 public:
  // Throws Error(kInvalidArgument) when the tier folder is not a writable folder, or fast_bytes
  // is set without one.
  explicit CpuKvMemory(const KvMemoryOptions& options);
  ~CpuKvMemory() override;

  KvPoolId AddPool(const KvPoolDesc& desc) override;
  const KvPoolDesc& pool(KvPoolId id) const override { return Get(id).desc; }
  KvPageId Allocate(KvPoolId pool) override;
  KvPageId Duplicate(KvPoolId pool, KvPageId page) override;
  void Retain(KvPoolId pool, KvPageId page) override;
  void Release(KvPoolId pool, KvPageId page) noexcept override;
  bool Shared(KvPoolId pool, KvPageId page) const override;
  uint64_t budget_bytes() const override { return options_.budget_bytes; }
  uint64_t bytes_in_use() const override { return in_use_.load(std::memory_order_relaxed); }
  KvMemoryStats stats() const override;

  // The bytes of row `row` of `page` (for the CPU stream's operators). The caller holds a
  // reference to the page.
  uint8_t* Row(KvPoolId pool, KvPageId page, int64_t row) const;
  // The bytes of logical row `r` of a block table in this memory.
  uint8_t* RowOf(const KvRows& rows, int64_t r) const {
    const int64_t rpp = pool(rows.pool).rows_per_page;
    return Row(rows.pool, rows.pages[static_cast<size_t>(r / rpp)], r % rpp);
  }
  // Throws Error(kInvalidArgument) unless `pool` exists and `page` is one of its pages.
  void CheckPage(KvPoolId pool, KvPageId page) const;

 private:
  static constexpr int kMaxPools = 32;
  static constexpr int kMaxSlabs = 1 << 16;
  static constexpr int64_t kSlabBytes = int64_t{2} << 20;

  struct Slab {
    uint8_t* data = nullptr;  // pages_per_slab pages
    size_t bytes = 0;
    std::unique_ptr<std::atomic<int32_t>[]> refs;
    bool tiered = false;  // a file in the tier folder
  };
  struct Pool {
    KvPoolDesc desc;
    int64_t page_bytes = 0;
    int pages_per_slab = 0;
    std::unique_ptr<std::atomic<Slab*>[]> slabs{new std::atomic<Slab*>[kMaxSlabs]()};
    int slab_count = 0;                 // guarded by mutex_
    int tiered_slabs = 0;               // guarded by mutex_
    std::vector<KvPageId> free_pages;   // guarded by mutex_
    int64_t pages_in_use = 0;           // guarded by mutex_
  };

  const Pool& Get(KvPoolId id) const;
  std::atomic<int32_t>& Ref(const Pool& p, KvPageId page) const;
  KvPageId TakePage(Pool& p);  // under mutex_
  bool NextSlabTiered(const Pool& p) const;  // under mutex_

  const KvMemoryOptions options_;
  uint64_t fast_storage_ = 0;  // bytes of anonymous slabs, guarded by mutex_
  std::atomic<uint64_t> in_use_{0};
  mutable std::mutex mutex_;
  std::array<std::unique_ptr<Pool>, kMaxPools> pools_;
  std::atomic<int> pool_count_{0};
};

}  // namespace deepseek::backend::cpu

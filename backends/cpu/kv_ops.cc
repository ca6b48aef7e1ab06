#include "backends/cpu/kv_ops.h"

#include <string>

#include "backends/cpu/sparse_attention.h"
#include "backends/kv_row_codec.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace deepseek::backend::cpu {
namespace {

// Rows a round's later queries may add to its first query's rows: bounds the scratch of a long
// prefill chunk deep into a context (~16 MiB at dim 512 beyond one query's rows), while queries
// that read the same rows (every query of a chunk reads all of an HCA layer's entries) share
// one unpacking.
constexpr size_t kRoundRows = 8192;  // rows of 2 KiB at dim 512
// Rows packed or unpacked per task when a call is split over the pool.
constexpr int64_t kRowsPerTask = 16;

template <typename Fn>
void ForRows(ThreadPool& pool, int64_t n, Fn&& fn) {
  if (n < 2 * kRowsPerTask) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  pool.ParallelFor(n, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) fn(i);
  });
}

}  // namespace

CpuKvMemory& CpuMemoryOf(const KvRows& rows, const char* op) {
  auto* memory = dynamic_cast<CpuKvMemory*>(rows.memory);
  if (memory == nullptr) Fail(StatusCode::kInvalidArgument, std::string(op) + ": the KV rows are not in CPU memory");
  for (KvPageId page : rows.pages) memory->CheckPage(rows.pool, page);
  const int64_t capacity = static_cast<int64_t>(rows.pages.size()) * memory->pool(rows.pool).rows_per_page;
  if (rows.rows < 0 || rows.rows > capacity) {
    Fail(StatusCode::kInvalidArgument, std::string(op) + ": " + std::to_string(rows.rows) + " rows in a table of " +
                                           std::to_string(capacity));
  }
  return *memory;
}

void KvWriteRows(CpuKvMemory& memory, const KvRows& dst, int64_t first, int64_t n, const float* values,
                 ThreadPool& pool) {
  const KvRowLayout& layout = memory.pool(dst.pool).row;
  ForRows(pool, n, [&](int64_t i) { PackKvRow(layout, values + i * layout.dim, memory.RowOf(dst, first + i)); });
}

void KvGatherRows(CpuKvMemory& memory, const KvRows& src, std::span<const int64_t> rows, float* out,
                  ThreadPool& pool) {
  const KvRowLayout& layout = memory.pool(src.pool).row;
  ForRows(pool, static_cast<int64_t>(rows.size()), [&](int64_t i) {
    UnpackKvRow(layout, memory.RowOf(src, rows[static_cast<size_t>(i)]), out + i * layout.dim);
  });
}

// Queries are taken in rounds: a round's cache rows (the union of its queries' window and
// compressed rows) are unpacked once into scratch, then its queries attend through pointers.
void AttendIndexed(const float* q, int64_t n, int heads, int dim, const AttentionKv& kv, const CpuKvMemory* window,
                   const CpuKvMemory* compressed, std::span<const int64_t> offsets, std::span<const int32_t> indices,
                   const float* sink, float scale, float* out, AttentionScratch& scratch, ThreadPool& pool) {
  const int64_t window_end = kv.fresh_rows + kv.window.rows;
  const size_t space = static_cast<size_t>(window_end + kv.compressed.rows);
  if (scratch.mark.size() < space) {
    scratch.mark.resize(space, 0);
    scratch.slot.resize(space);
  }
  std::vector<std::vector<const float*>> rows;
  for (int64_t q0 = 0; q0 < n;) {
    if (++scratch.round == 0) {  // the marks wrapped: forget them all
      std::fill(scratch.mark.begin(), scratch.mark.end(), 0);
      scratch.round = 1;
    }
    scratch.listed.clear();
    int64_t q1 = q0;
    size_t first_rows = 0;
    while (q1 < n && (q1 == q0 || scratch.listed.size() < first_rows + kRoundRows)) {
      for (int64_t j = offsets[static_cast<size_t>(q1)]; j < offsets[static_cast<size_t>(q1) + 1]; ++j) {
        const int32_t idx = indices[static_cast<size_t>(j)];
        if (idx < kv.fresh_rows || scratch.mark[static_cast<size_t>(idx)] == scratch.round) continue;
        scratch.mark[static_cast<size_t>(idx)] = scratch.round;
        scratch.slot[static_cast<size_t>(idx)] = static_cast<int32_t>(scratch.listed.size());
        scratch.listed.push_back(idx);
      }
      if (q1 == q0) first_rows = scratch.listed.size();
      ++q1;
    }
    scratch.rows.resize(scratch.listed.size() * static_cast<size_t>(dim));
    ForRows(pool, static_cast<int64_t>(scratch.listed.size()), [&](int64_t i) {
      const int64_t idx = scratch.listed[static_cast<size_t>(i)];
      const bool in_window = idx < window_end;
      const KvRows& src = in_window ? kv.window : kv.compressed;
      const CpuKvMemory& memory = in_window ? *window : *compressed;
      UnpackKvRow(memory.pool(src.pool).row, memory.RowOf(src, idx - (in_window ? kv.fresh_rows : window_end)),
                  scratch.rows.data() + i * dim);
    });
    rows.assign(static_cast<size_t>(q1 - q0), {});
    for (int64_t i = q0; i < q1; ++i) {
      auto& list = rows[static_cast<size_t>(i - q0)];
      for (int64_t j = offsets[static_cast<size_t>(i)]; j < offsets[static_cast<size_t>(i) + 1]; ++j) {
        const int32_t idx = indices[static_cast<size_t>(j)];
        list.push_back(idx < kv.fresh_rows ? kv.fresh + int64_t{idx} * dim
                                           : scratch.rows.data() + int64_t{scratch.slot[static_cast<size_t>(idx)]} * dim);
      }
    }
    const int64_t stride = int64_t{heads} * dim;
    SparseAttentionF32(q + q0 * stride, q1 - q0, heads, dim, rows, sink, scale, out + q0 * stride, pool);
    q0 = q1;
  }
}

}  // namespace deepseek::backend::cpu

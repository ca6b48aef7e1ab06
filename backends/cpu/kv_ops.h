// The CPU stream's KV operators on validated arguments: packing rows into pages, unpacking
// them, and sparse attention over indexed rows (resolved to unpacked rows, then the
// SparseAttentionF32 kernel).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/kv_memory.h"

namespace deepseek {
class ThreadPool;
}

namespace deepseek::backend::cpu {

// The CPU memory behind `rows`; throws Error(kInvalidArgument) for another device's memory or
// a block table whose pages are not all in the pool.
CpuKvMemory& CpuMemoryOf(const KvRows& rows, const char* op);

void KvWriteRows(CpuKvMemory& memory, const KvRows& dst, int64_t first, int64_t n, const float* values,
                 ThreadPool& pool);
void KvGatherRows(CpuKvMemory& memory, const KvRows& src, std::span<const int64_t> rows, float* out,
                  ThreadPool& pool);

// Attention scratch kept by a stream between calls (used by one thread at a time).
struct AttentionScratch {
  std::vector<uint32_t> mark;   // per index: the resolution round that last unpacked it
  std::vector<int32_t> slot;    // per index: its row in `rows` during that round
  uint32_t round = 0;
  std::vector<float> rows;      // unpacked cache rows of the current round
  std::vector<int64_t> listed;  // indices unpacked this round, in slot order
};

// `window` and `compressed` are the memories of kv.window and kv.compressed, already checked
// (CpuMemoryOf); null where those hold no rows.
void AttendIndexed(const float* q, int64_t n, int heads, int dim, const AttentionKv& kv, const CpuKvMemory* window,
                   const CpuKvMemory* compressed, std::span<const int64_t> offsets, std::span<const int32_t> indices,
                   const float* sink, float scale, float* out, AttentionScratch& scratch, ThreadPool& pool);

}  // namespace deepseek::backend::cpu

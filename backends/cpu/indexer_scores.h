// Non-SIMD entry point of the CPU indexer scores (indexer_scores.cc, one instance per Highway
// target, dispatched once per call).
#pragma once

#include <cstdint>
#include <span>

#include "backends/cpu/kv_memory.h"

namespace deepseek {
class ThreadPool;
}

namespace deepseek::backend::cpu {

// Stream::IndexerScores (see backends/backend.h) on validated arguments; the keys are split
// over `pool`'s threads in tiles.
void IndexerScoresF32(const float* q, const float* w, int64_t n, int heads, const CpuKvMemory& memory,
                      const KvRows& keys, std::span<const int64_t> visible, float* scores, int64_t stride,
                      ThreadPool& pool);

}  // namespace deepseek::backend::cpu

// Non-SIMD entry point of the CPU sparse attention (sparse_attention.cc, one instance per
// Highway target, dispatched once per call).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace deepseek {
class ThreadPool;
}

namespace deepseek::backend::cpu {

// Stream::SparseAttention (see backends/backend.h) over rows already resolved to fp32 rows in
// memory (rows[i] lists query i's rows), split over `pool`: one query by passes over its rows
// or by heads, several queries by query.
void SparseAttentionF32(const float* q, int64_t n, int heads, int dim,
                        std::span<const std::vector<const float*>> rows, const float* sink,
                        float scale, float* out, ThreadPool& pool);

}  // namespace deepseek::backend::cpu

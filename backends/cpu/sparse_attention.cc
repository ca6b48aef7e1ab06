// Softmax attention of each (query, head) over that query's gathered fp32 rows, with a
// per-head sink in the denominator; compiled once per Highway target.
#include "core/numerics.h"
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/sparse_attention.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "backends/cpu/sparse_attention.h"
#include "core/thread_pool.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace deepseek::backend::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

HWY_INLINE float Dot(const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, int64_t size) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  VF sum0 = hn::Zero(df), sum1 = hn::Zero(df);
  int64_t d = 0;
  for (; d + 2 * lanes <= size; d += 2 * lanes) {
    sum0 = hn::MulAdd(hn::LoadU(df, a + d), hn::LoadU(df, b + d), sum0);
    sum1 = hn::MulAdd(hn::LoadU(df, a + d + lanes), hn::LoadU(df, b + d + lanes), sum1);
  }
  for (; d + lanes <= size; d += lanes) sum0 = hn::MulAdd(hn::LoadU(df, a + d), hn::LoadU(df, b + d), sum0);
  float dot = hn::GetLane(hn::SumOfLanes(df, hn::Add(sum0, sum1)));
  for (; d < size; ++d) dot += a[d] * b[d];
  return dot;
}

// acc += weight · row, elementwise.
HWY_INLINE void AddScaled(float weight, const float* HWY_RESTRICT row, float* HWY_RESTRICT acc,
                          int64_t size) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const VF vw = hn::Set(df, weight);
  int64_t d = 0;
  for (; d + lanes <= size; d += lanes) {
    hn::StoreU(hn::MulAdd(vw, hn::LoadU(df, row + d), hn::LoadU(df, acc + d)), df, acc + d);
  }
  for (; d < size; ++d) acc[d] += weight * row[d];
}

HWY_INLINE void Scale(float factor, float* HWY_RESTRICT v, int64_t size) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const VF vf = hn::Set(df, factor);
  int64_t d = 0;
  for (; d + lanes <= size; d += lanes) hn::StoreU(hn::Mul(vf, hn::LoadU(df, v + d)), df, v + d);
  for (; d < size; ++d) v[d] *= factor;
}

void SparseAttentionImpl(const float* q, int64_t n, int heads, int dim,
                         std::span<const std::vector<const float*>> rows, const float* sink, float scale,
                         float* out, ThreadPool& pool) {
  pool.ParallelFor(n * heads, [&](int64_t begin, int64_t end, int) {
    std::vector<float> scores;
    for (int64_t pair = begin; pair < end; ++pair) {
      const std::vector<const float*>& kv = rows[static_cast<size_t>(pair / heads)];
      const float* qv = q + pair * dim;
      float* o = out + pair * dim;
      std::fill(o, o + dim, 0.0f);
      if (kv.empty()) continue;
      const float head_sink = sink[pair % heads];
      scores.resize(kv.size());
      float max = -INFINITY;  // over the scores only, as the reference (the sink is not a key)
      for (size_t j = 0; j < kv.size(); ++j) {
        scores[j] = scale * Dot(qv, kv[j], dim);
        max = std::max(max, scores[j]);
      }
      // As the reference kernel: unnormalised probabilities enter P·V as bf16, while the
      // denominator sums them in fp32.
      float denominator = std::exp(head_sink - max);
      for (size_t j = 0; j < kv.size(); ++j) {
        const float p = std::exp(scores[j] - max);
        denominator += p;
        AddScaled(deepseek::num::RoundBf16(p), kv[j], o, dim);
      }
      Scale(1.0f / denominator, o, dim);
    }
  });
}

}  // namespace deepseek::backend::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace deepseek::backend::cpu {
HWY_EXPORT(SparseAttentionImpl);
void SparseAttentionF32(const float* q, int64_t n, int heads, int dim,
                        std::span<const std::vector<const float*>> rows, const float* sink,
                        float scale, float* out, ThreadPool& pool) {
  HWY_DYNAMIC_DISPATCH(SparseAttentionImpl)(q, n, heads, dim, rows, sink, scale, out, pool);
}
}  // namespace deepseek::backend::cpu
#endif  // HWY_ONCE

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

// Dot(q + h·dim, row, dim) for the four heads h0 .. h0 + 3, each with the very operations of
// Dot (the same two chains, lane sums and tail), but with one load of the row for all four.
HWY_INLINE void Dot4(const float* HWY_RESTRICT q, const float* HWY_RESTRICT row, int64_t dim, float* dots) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const float *q0 = q, *q1 = q + dim, *q2 = q + 2 * dim, *q3 = q + 3 * dim;
  VF a0 = hn::Zero(df), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, e0 = a0, e1 = a0;
  int64_t d = 0;
  for (; d + 2 * lanes <= dim; d += 2 * lanes) {
    const VF r0 = hn::LoadU(df, row + d), r1 = hn::LoadU(df, row + d + lanes);
    a0 = hn::MulAdd(hn::LoadU(df, q0 + d), r0, a0);
    a1 = hn::MulAdd(hn::LoadU(df, q0 + d + lanes), r1, a1);
    b0 = hn::MulAdd(hn::LoadU(df, q1 + d), r0, b0);
    b1 = hn::MulAdd(hn::LoadU(df, q1 + d + lanes), r1, b1);
    c0 = hn::MulAdd(hn::LoadU(df, q2 + d), r0, c0);
    c1 = hn::MulAdd(hn::LoadU(df, q2 + d + lanes), r1, c1);
    e0 = hn::MulAdd(hn::LoadU(df, q3 + d), r0, e0);
    e1 = hn::MulAdd(hn::LoadU(df, q3 + d + lanes), r1, e1);
  }
  if (d + lanes <= dim) {  // Dot's single whole vector after the pairs (at most one)
    const VF r0 = hn::LoadU(df, row + d);
    a0 = hn::MulAdd(hn::LoadU(df, q0 + d), r0, a0);
    b0 = hn::MulAdd(hn::LoadU(df, q1 + d), r0, b0);
    c0 = hn::MulAdd(hn::LoadU(df, q2 + d), r0, c0);
    e0 = hn::MulAdd(hn::LoadU(df, q3 + d), r0, e0);
    d += lanes;
  }
  const auto finish = [&](VF s0, VF s1, const float* qh) HWY_ATTR {
    float dot = hn::GetLane(hn::SumOfLanes(df, hn::Add(s0, s1)));
    for (int64_t t = d; t < dim; ++t) dot += qh[t] * row[t];
    return dot;
  };
  dots[0] = finish(a0, a1, q0);
  dots[1] = finish(b0, b1, q1);
  dots[2] = finish(c0, c1, q2);
  dots[3] = finish(e0, e1, q3);
}

// acc[d] += weight · row[d] and v[d] *= factor for d in [d0, d1) of a `size`-wide row; each
// element takes the same operation whatever the range (vector lanes up to the last whole
// vector of the row, scalar past it), so a row done in pieces equals the row done at once.
// d0 is a multiple of the vector length.
HWY_INLINE void AddScaled(float weight, const float* HWY_RESTRICT row, float* HWY_RESTRICT acc, int64_t d0,
                               int64_t d1, int64_t size) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df)), whole = size - size % lanes;
  const VF vw = hn::Set(df, weight);
  int64_t d = d0;
  for (; d + lanes <= std::min(d1, whole); d += lanes) {
    hn::StoreU(hn::MulAdd(vw, hn::LoadU(df, row + d), hn::LoadU(df, acc + d)), df, acc + d);
  }
  for (; d < d1; ++d) acc[d] += weight * row[d];
}

HWY_INLINE void Scale(float factor, float* HWY_RESTRICT v, int64_t d0, int64_t d1, int64_t size) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df)), whole = size - size % lanes;
  const VF vf = hn::Set(df, factor);
  int64_t d = d0;
  for (; d + lanes <= std::min(d1, whole); d += lanes) hn::StoreU(hn::Mul(vf, hn::LoadU(df, v + d)), df, v + d);
  for (; d < d1; ++d) v[d] *= factor;
}


// One query's attention over its rows kv, in three passes that each take a range, so that one
// thread can run a query alone or several threads share one: scores (p [heads][rows]), then
// per head the probabilities and their denominator, then P·V. The rows are streamed once per
// pass for all heads rather than once per head; each score is the same Dot, and each output
// element sums its rows in the same order with the same fused multiply-adds as the per-head
// path (AttendHead), so the results are identical.
struct RowsAttention {
  const float* q;
  int heads, dim;
  const std::vector<const float*>& kv;
  float scale;
  float* p;            // [heads][rows]
  float* denominator;  // [heads]
  int64_t rows() const { return static_cast<int64_t>(kv.size()); }

  void Scores(int64_t j0, int64_t j1) const {
    float dots[4];
    for (int64_t j = j0; j < j1; ++j) {
      const float* row = kv[static_cast<size_t>(j)];
      int h = 0;
      for (; h + 4 <= heads; h += 4) {
        Dot4(q + h * dim, row, dim, dots);
        for (int k = 0; k < 4; ++k) p[(h + k) * rows() + j] = scale * dots[k];
      }
      for (; h < heads; ++h) p[h * rows() + j] = scale * Dot(q + h * dim, row, dim);
    }
  }

  // As the reference kernel: unnormalised probabilities enter P·V as bf16, while the
  // denominator sums them in fp32 (with the sink; the maximum is over the scores only).
  void Probabilities(const float* sink, int64_t h0, int64_t h1) const {
    for (int64_t h = h0; h < h1; ++h) {
      float* ph = p + h * rows();
      const float max = *std::max_element(ph, ph + rows());
      float sum = std::exp(sink[h] - max);
      for (int64_t j = 0; j < rows(); ++j) {
        const float e = std::exp(ph[j] - max);
        sum += e;
        ph[j] = deepseek::num::RoundBf16(e);
      }
      denominator[h] = sum;
    }
  }

  // out [heads, dim] for dims [d0, d1), d0 a multiple of the vector length.
  void Weighted(int64_t d0, int64_t d1, float* out) const {
    const DF df;
    const int64_t lanes = static_cast<int64_t>(hn::Lanes(df)), n = rows();
    // Register blocks of 4 heads × 2 vectors of dims accumulate over the rows: the same fused
    // multiply-adds in the same row order as AddScaled, without loading and storing the
    // outputs at every row. Rows go in chunks, and within a chunk every block of heads runs
    // over one slice of dims before the next, so the chunk's slice of each row (kRowChunk ·
    // 2 vectors) is read from memory once and then from L1 (the rows are far apart: read for
    // each block in turn, they would come from memory every time). Between chunks the sums
    // wait in `out`, which changes no value. The rest (other head counts, the last odd vector,
    // the scalar tail) goes through AddScaled.
    constexpr int64_t kRowChunk = 128;
    const int64_t whole = std::min(d1, dim - dim % lanes);
    const int64_t paired = d0 + (whole > d0 ? (whole - d0) / (2 * lanes) * (2 * lanes) : 0);
    const int blocked_heads = heads - heads % 4;
    for (int64_t j0 = 0; j0 < n; j0 += kRowChunk) {
      const int64_t j1 = std::min(n, j0 + kRowChunk);
      for (int64_t d = d0; d < paired; d += 2 * lanes) {
        for (int h = 0; h < blocked_heads; h += 4) {
          const float* p0 = p + static_cast<int64_t>(h) * n;
          float* o = out + static_cast<int64_t>(h) * dim + d;
          const auto start = [&](const float* at) HWY_ATTR { return j0 == 0 ? hn::Zero(df) : hn::LoadU(df, at); };
          VF a0 = start(o), a1 = start(o + lanes), b0 = start(o + dim), b1 = start(o + dim + lanes);
          VF c0 = start(o + 2 * dim), c1 = start(o + 2 * dim + lanes), e0 = start(o + 3 * dim), e1 = start(o + 3 * dim + lanes);
          for (int64_t j = j0; j < j1; ++j) {
            const float* row = kv[static_cast<size_t>(j)] + d;
            const VF r0 = hn::LoadU(df, row), r1 = hn::LoadU(df, row + lanes);
            const VF w0 = hn::Set(df, p0[j]), w1 = hn::Set(df, p0[n + j]);
            const VF w2 = hn::Set(df, p0[2 * n + j]), w3 = hn::Set(df, p0[3 * n + j]);
            a0 = hn::MulAdd(w0, r0, a0);
            a1 = hn::MulAdd(w0, r1, a1);
            b0 = hn::MulAdd(w1, r0, b0);
            b1 = hn::MulAdd(w1, r1, b1);
            c0 = hn::MulAdd(w2, r0, c0);
            c1 = hn::MulAdd(w2, r1, c1);
            e0 = hn::MulAdd(w3, r0, e0);
            e1 = hn::MulAdd(w3, r1, e1);
          }
          hn::StoreU(a0, df, o);
          hn::StoreU(a1, df, o + lanes);
          hn::StoreU(b0, df, o + dim);
          hn::StoreU(b1, df, o + dim + lanes);
          hn::StoreU(c0, df, o + 2 * dim);
          hn::StoreU(c1, df, o + 2 * dim + lanes);
          hn::StoreU(e0, df, o + 3 * dim);
          hn::StoreU(e1, df, o + 3 * dim + lanes);
        }
      }
    }
    // Whatever the blocks did not cover: every head's [paired, d1), and all of [d0, paired) for
    // the heads past the last block of 4.
    for (int h = 0; h < heads; ++h) {
      const int64_t from = h < blocked_heads ? paired : d0;
      if (from >= d1) continue;
      std::fill(out + h * dim + from, out + h * dim + d1, 0.0f);
      for (int64_t j = 0; j < n; ++j) AddScaled(p[h * n + j], kv[static_cast<size_t>(j)], out + h * dim, from, d1, dim);
    }
    for (int h = 0; h < heads; ++h) Scale(1.0f / denominator[h], out + h * dim, d0, d1, dim);
  }
};

// One head of one query over its rows, row by row (few rows, where a pass per head is cheap).
void AttendHead(const float* qv, const std::vector<const float*>& kv, int dim, float head_sink, float scale, float* o,
                std::vector<float>& scores) {
  std::fill(o, o + dim, 0.0f);
  if (kv.empty()) return;
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
    AddScaled(deepseek::num::RoundBf16(p), kv[j], o, 0, dim, dim);
  }
  Scale(1.0f / denominator, o, 0, dim, dim);
}

void SparseAttentionImpl(const float* q, int64_t n, int heads, int dim,
                         std::span<const std::vector<const float*>> rows, const float* sink, float scale,
                         float* out, ThreadPool& pool) {
  const int64_t stride = int64_t{heads} * dim;
  // From this many rows a query's heads share each pass over its rows; below, a query goes
  // head by head.
  constexpr size_t kSharedRows = 16;
  if (n == 1 && rows[0].size() >= kSharedRows) {  // one query (decode): its passes split over the threads
    const DF df;
    const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
    std::vector<float> p(static_cast<size_t>(heads) * rows[0].size()), denominator(static_cast<size_t>(heads));
    const RowsAttention a{q, heads, dim, rows[0], scale, p.data(), denominator.data()};
    pool.ParallelFor(a.rows(), [&](int64_t begin, int64_t end, int) { a.Scores(begin, end); });
    pool.ParallelFor(heads, [&](int64_t begin, int64_t end, int) { a.Probabilities(sink, begin, end); });
    // Dims in whole vectors per thread, so each element takes the operation it takes in a whole row.
    pool.ParallelFor(dim / lanes + 1, [&](int64_t begin, int64_t end, int) {
      const int64_t d0 = begin * lanes, d1 = std::min<int64_t>(end * lanes, dim);
      if (d0 < d1) a.Weighted(d0, d1, out);
    });
    return;
  }
  if (n == 1) {  // few rows: the heads split over the threads
    pool.ParallelFor(heads, [&](int64_t begin, int64_t end, int) {
      std::vector<float> scores;
      for (int64_t h = begin; h < end; ++h) AttendHead(q + h * dim, rows[0], dim, sink[h], scale, out + h * dim, scores);
    });
    return;
  }
  // Many queries (prefill): the queries split over the threads, each query by one thread.
  pool.ParallelFor(n, [&](int64_t begin, int64_t end, int) {
    std::vector<float> p, denominator(static_cast<size_t>(heads));
    for (int64_t i = begin; i < end; ++i) {
      const std::vector<const float*>& kv = rows[static_cast<size_t>(i)];
      if (kv.size() < kSharedRows) {
        for (int h = 0; h < heads; ++h) AttendHead(q + i * stride + h * dim, kv, dim, sink[h], scale, out + i * stride + h * dim, p);
        continue;
      }
      p.resize(static_cast<size_t>(heads) * kv.size());
      const RowsAttention a{q + i * stride, heads, dim, kv, scale, p.data(), denominator.data()};
      a.Scores(0, a.rows());
      a.Probabilities(sink, 0, heads);
      a.Weighted(0, dim, out + i * stride);
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

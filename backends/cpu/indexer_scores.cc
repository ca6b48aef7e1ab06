// The CSA indexer's scores over MXFP4 keys, compiled once per Highway target. Keys go across
// the lanes: a tile of one vector's worth of keys is decoded once (e2m1 codes as small exact
// floats, laid out dimension-major) and then serves every query, so each key's score is the
// same sequence of operations whatever the vector width — results agree on every target and
// for any batching of queries. Within a block of 32 dims, the products of FP4 values are
// exact multiples of the two block scales and sum exactly in fp32; the scales are applied per
// block, the blocks and then the heads added in ascending order, as the contract says.
#include "core/numerics.h"
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/indexer_scores.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <algorithm>
#include <cstring>
#include <vector>

#include "backends/cpu/indexer_scores.h"
#include "core/thread_pool.h"
#include "hwy/aligned_allocator.h"
#include "hwy/highway.h"

#ifndef DEEPSEEK_INDEXER_SCORES_ONCE
#define DEEPSEEK_INDEXER_SCORES_ONCE
namespace deepseek::backend::cpu {
namespace {

constexpr int kBlock = 32;  // dims per FP4 scale

// A query prepared once per call: per head and block, the values divided by their block's
// scale (so small exact multiples of 1/2) and the scale; and the head weights.
struct PreparedQuery {
  std::vector<float> units;   // [heads, dim]: q / s_block
  std::vector<float> scales;  // [heads, dim / kBlock]
};

PreparedQuery Prepare(const float* q, int heads, int dim) {
  PreparedQuery p;
  p.units.resize(static_cast<size_t>(heads) * dim);
  p.scales.resize(static_cast<size_t>(heads) * (dim / kBlock));
  for (int h = 0; h < heads; ++h) {
    for (int b = 0; b < dim / kBlock; ++b) {
      const float* block = q + static_cast<size_t>(h) * dim + b * kBlock;
      const float s = num::Fp4BlockScale(num::BlockAmax(block, kBlock));
      p.scales[static_cast<size_t>(h) * (dim / kBlock) + b] = s;
      for (int i = 0; i < kBlock; ++i) p.units[static_cast<size_t>(h) * dim + b * kBlock + i] = block[i] / s;
    }
  }
  return p;
}

}  // namespace
}  // namespace deepseek::backend::cpu
#endif  // DEEPSEEK_INDEXER_SCORES_ONCE

HWY_BEFORE_NAMESPACE();
namespace deepseek::backend::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
using DU = hn::RebindToUnsigned<DF>;

// bf16(x) for every lane: round to nearest even at bit 16 (no NaN reaches here).
HWY_INLINE VF RoundBf16(DF df, VF x) {
  const DU du;
  const auto bits = hn::BitCast(du, x);
  const auto lsb = hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 1));
  const auto rounded = hn::Add(hn::Add(bits, hn::Set(du, 0x7fff)), lsb);
  return hn::BitCast(df, hn::And(rounded, hn::Set(du, 0xffff0000u)));
}

// Decodes keys [first, first + lanes) into `values` [dim][lanes] (e2m1 values, unscaled) and
// `scales` [dim / 32][lanes]; lanes past `count` decode key `first` again (never stored).
void DecodeTile(const CpuKvMemory& memory, const KvRows& keys, int64_t first, int64_t count, size_t lanes, int dim,
                float* values, float* scales) {
  const int64_t rpp = memory.pool(keys.pool).rows_per_page;
  for (size_t lane = 0; lane < lanes; ++lane) {
    const int64_t b = first + (static_cast<int64_t>(lane) < count ? static_cast<int64_t>(lane) : 0);
    const uint8_t* row = memory.Row(keys.pool, keys.pages[static_cast<size_t>(b / rpp)], b % rpp);
    for (int d = 0; d < dim; d += 2) {
      const uint8_t byte = row[d / 2];
      values[static_cast<size_t>(d) * lanes + lane] = num::E2m1ToFloat(byte & 0xf);
      values[static_cast<size_t>(d + 1) * lanes + lane] = num::E2m1ToFloat(byte >> 4);
    }
    for (int blk = 0; blk < dim / kBlock; ++blk) {
      scales[static_cast<size_t>(blk) * lanes + lane] = num::E8m0ToFloat(row[dim / 2 + blk]);
    }
  }
}

// Scores of one query for the tile's keys.
HWY_INLINE VF ScoreTile(DF df, const PreparedQuery& q, const float* w, int heads, int dim, const float* values,
                        const float* scales) {
  const size_t lanes = hn::Lanes(df);
  VF total = hn::Zero(df);
  for (int h = 0; h < heads; ++h) {
    const float* units = q.units.data() + static_cast<size_t>(h) * dim;
    VF dot = hn::Zero(df);
    for (int blk = 0; blk < dim / kBlock; ++blk) {
      // Two accumulators: each partial sum is exact, so their order does not matter.
      VF a0 = hn::Zero(df), a1 = hn::Zero(df);
      const float* v = values + static_cast<size_t>(blk * kBlock) * lanes;
      for (int i = 0; i < kBlock; i += 2) {
        a0 = hn::MulAdd(hn::Set(df, units[blk * kBlock + i]), hn::Load(df, v + static_cast<size_t>(i) * lanes), a0);
        a1 = hn::MulAdd(hn::Set(df, units[blk * kBlock + i + 1]), hn::Load(df, v + static_cast<size_t>(i + 1) * lanes), a1);
      }
      const VF scale = hn::Mul(hn::Set(df, q.scales[static_cast<size_t>(h) * (dim / kBlock) + blk]),
                               hn::Load(df, scales + static_cast<size_t>(blk) * lanes));
      dot = hn::Add(dot, hn::Mul(hn::Add(a0, a1), scale));
    }
    const VF relu = hn::Max(RoundBf16(df, dot), hn::Zero(df));
    total = hn::Add(total, RoundBf16(df, hn::Mul(relu, hn::Set(df, w[h]))));
  }
  return RoundBf16(df, total);
}

void IndexerScoresImpl(const float* q, const float* w, int64_t n, int heads, const CpuKvMemory& memory,
                       const KvRows& keys, std::span<const int64_t> visible, float* scores, int64_t stride,
                       ThreadPool& pool) {
  const DF df;
  const size_t lanes = hn::Lanes(df);
  const int dim = memory.pool(keys.pool).row.dim;
  std::vector<PreparedQuery> prepared;
  for (int64_t i = 0; i < n; ++i) prepared.push_back(Prepare(q + i * heads * dim, heads, dim));
  const int64_t most = *std::max_element(visible.begin(), visible.end());
  const int64_t tiles = (most + static_cast<int64_t>(lanes) - 1) / static_cast<int64_t>(lanes);
  pool.ParallelFor(tiles, [&](int64_t begin, int64_t end, int) {
    auto values = hwy::AllocateAligned<float>(static_cast<size_t>(dim) * lanes);
    auto key_scales = hwy::AllocateAligned<float>(static_cast<size_t>(dim / kBlock) * lanes);
    auto out = hwy::AllocateAligned<float>(lanes);
    for (int64_t t = begin; t < end; ++t) {
      const int64_t first = t * static_cast<int64_t>(lanes);
      const int64_t count = std::min<int64_t>(static_cast<int64_t>(lanes), most - first);
      DecodeTile(memory, keys, first, count, lanes, dim, values.get(), key_scales.get());
      for (int64_t i = 0; i < n; ++i) {
        const int64_t keep = std::min<int64_t>(count, visible[static_cast<size_t>(i)] - first);
        if (keep <= 0) continue;
        hn::Store(ScoreTile(df, prepared[static_cast<size_t>(i)], w + i * heads, heads, dim, values.get(), key_scales.get()),
                  df, out.get());
        std::memcpy(scores + i * stride + first, out.get(), static_cast<size_t>(keep) * sizeof(float));
      }
    }
  });
}

}  // namespace deepseek::backend::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace deepseek::backend::cpu {
HWY_EXPORT(IndexerScoresImpl);
void IndexerScoresF32(const float* q, const float* w, int64_t n, int heads, const CpuKvMemory& memory,
                      const KvRows& keys, std::span<const int64_t> visible, float* scores, int64_t stride,
                      ThreadPool& pool) {
  HWY_DYNAMIC_DISPATCH(IndexerScoresImpl)(q, w, n, heads, memory, keys, visible, scores, stride, pool);
}
}  // namespace deepseek::backend::cpu
#endif  // HWY_ONCE

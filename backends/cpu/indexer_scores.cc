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
#include <array>
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

// Every key byte's two e2m1 values (low nibble first), and every e8m0 code's scale: decoding a
// tile is then two table reads per byte (E2m1ToFloat and E8m0ToFloat compute each value).
struct KeyTables {
  std::array<std::array<float, 2>, 256> pair;
  std::array<float, 256> scale;
};

const KeyTables& Tables() {
  static const KeyTables tables = [] {
    KeyTables t{};
    for (int b = 0; b < 256; ++b) {
      t.pair[static_cast<size_t>(b)] = {num::E2m1ToFloat(static_cast<uint8_t>(b & 0xf)), num::E2m1ToFloat(static_cast<uint8_t>(b >> 4))};
      t.scale[static_cast<size_t>(b)] = num::E8m0ToFloat(static_cast<uint8_t>(b));
    }
    return t;
  }();
  return tables;
}

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
  const KeyTables& t = Tables();
  for (size_t lane = 0; lane < lanes; ++lane) {
    const int64_t b = first + (static_cast<int64_t>(lane) < count ? static_cast<int64_t>(lane) : 0);
    const uint8_t* row = memory.RowOf(keys, b);
    for (int d = 0; d < dim; d += 2) {
      const std::array<float, 2>& pair = t.pair[row[d / 2]];
      values[static_cast<size_t>(d) * lanes + lane] = pair[0];
      values[static_cast<size_t>(d + 1) * lanes + lane] = pair[1];
    }
    for (int blk = 0; blk < dim / kBlock; ++blk) scales[static_cast<size_t>(blk) * lanes + lane] = t.scale[row[dim / 2 + blk]];
  }
}

// Scores of one query for the tile's keys.
HWY_INLINE VF ScoreTile(DF df, const PreparedQuery& q, const float* w, int heads, int dim, const float* values,
                        const float* scales) {
  const size_t lanes = hn::Lanes(df);
  VF total = hn::Zero(df);
  const int blocks = dim / kBlock;
  for (int h = 0; h < heads; ++h) {
    const float* units = q.units.data() + static_cast<size_t>(h) * dim;
    VF dot = hn::Zero(df);
    // Four blocks at a time, two accumulators each: eight independent chains keep the FMA
    // units busy. Every partial sum is exact, so how a block's products are split among its
    // accumulators does not change its sum.
    // (Named accumulators, not an array: vectors of scalable targets cannot be array elements.)
    for (int blk0 = 0; blk0 < blocks; blk0 += 4) {
      const int group = std::min(4, blocks - blk0);
      VF a0 = hn::Zero(df), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, e0 = a0, e1 = a0;
      const auto fma = [&](int blk, int i, VF& acc0, VF& acc1) HWY_ATTR {
        const int d = blk * kBlock + i;
        acc0 = hn::MulAdd(hn::Set(df, units[d]), hn::Load(df, values + static_cast<size_t>(d) * lanes), acc0);
        acc1 = hn::MulAdd(hn::Set(df, units[d + 1]), hn::Load(df, values + static_cast<size_t>(d + 1) * lanes), acc1);
      };
      for (int i = 0; i < kBlock; i += 2) {
        fma(blk0, i, a0, a1);
        if (group > 1) fma(blk0 + 1, i, b0, b1);
        if (group > 2) fma(blk0 + 2, i, c0, c1);
        if (group > 3) fma(blk0 + 3, i, e0, e1);
      }
      // The blocks' exact sums, scaled, added to the dot in ascending block order.
      const auto add_block = [&](int g, VF sum) HWY_ATTR {
        if (g >= group) return;
        const int blk = blk0 + g;
        const VF scale = hn::Mul(hn::Set(df, q.scales[static_cast<size_t>(h) * blocks + blk]),
                                 hn::Load(df, scales + static_cast<size_t>(blk) * lanes));
        dot = hn::Add(dot, hn::Mul(sum, scale));
      };
      add_block(0, hn::Add(a0, a1));
      add_block(1, hn::Add(b0, b1));
      add_block(2, hn::Add(c0, c1));
      add_block(3, hn::Add(e0, e1));
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

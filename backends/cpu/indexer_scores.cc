// The CSA indexer's scores over MXFP4 keys, compiled once per Highway target. An e2m1 value
// doubled is a small integer (|2v| ≤ 12), and so is a query value on the FP4 grid divided by
// its block's scale and doubled: within a block of 32 dims the products sum exactly in 32-bit
// integers, with the pairwise 16-bit multiply-add (x86 vpmaddwd) doing two dims of a head per
// 32-bit lane. Heads go across the lanes: a key's doubled values are decoded once per tile of
// keys and broadcast, every query vector loaded serves four keys. The blocks' exact sums are
// scaled and added in ascending order in fp32, then the heads in ascending order, as the
// contract says, so each key's score is the same on every target and for any batching.
#include "core/numerics.h"
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/indexer_scores.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/indexer_scores.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "hwy/aligned_allocator.h"
#include "hwy/highway.h"

#ifndef DEEPSEEK_INDEXER_SCORES_ONCE
#define DEEPSEEK_INDEXER_SCORES_ONCE
namespace deepseek::backend::cpu {
namespace {

constexpr int kBlock = 32;     // dims per FP4 scale
constexpr int kTileKeys = 8;   // keys decoded together, scored four at a time

// Two int16 values as the halves of one 32-bit word (low half first), as vpmaddwd pairs them.
int32_t PackPair(int lo, int hi) {
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(lo)) |
                              (static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16));
}

// Every key byte's two e2m1 values doubled, as one pair word (low nibble = even dim), and
// every e8m0 code's scale.
struct KeyTables {
  std::array<int32_t, 256> pair;
  std::array<float, 256> scale;
};

const KeyTables& Tables() {
  static const KeyTables tables = [] {
    KeyTables t{};
    for (int b = 0; b < 256; ++b) {
      const auto doubled = [](int nibble) { return static_cast<int>(2 * num::E2m1ToFloat(static_cast<uint8_t>(nibble))); };
      t.pair[static_cast<size_t>(b)] = PackPair(doubled(b & 0xf), doubled(b >> 4));
      t.scale[static_cast<size_t>(b)] = num::E8m0ToFloat(static_cast<uint8_t>(b));
    }
    return t;
  }();
  return tables;
}

// A query laid out for `lanes` heads per vector ("group"; heads past the last are zeros).
struct PreparedQuery {
  int groups = 0;
  std::vector<int32_t> pairs;  // [groups][dim / 2][lanes]: doubled q / s_block of dims 2p, 2p + 1
  std::vector<float> scales;   // [groups][dim / kBlock][lanes]: s_block
  std::vector<float> weights;  // [groups · lanes]: w, 0 past the last head
};

PreparedQuery Prepare(const float* q, const float* w, int heads, int dim, size_t lanes) {
  const int blocks = dim / kBlock, half = dim / 2, L = static_cast<int>(lanes);
  PreparedQuery p;
  p.groups = (heads + L - 1) / L;
  p.pairs.assign(static_cast<size_t>(p.groups) * half * L, 0);
  p.scales.assign(static_cast<size_t>(p.groups) * blocks * L, 1.0f);
  p.weights.assign(static_cast<size_t>(p.groups) * L, 0.0f);
  for (int h = 0; h < heads; ++h) {
    const int g = h / L, lane = h % L;
    p.weights[static_cast<size_t>(h)] = w[h];
    for (int b = 0; b < blocks; ++b) {
      const float* block = q + static_cast<size_t>(h) * dim + b * kBlock;
      const float s = num::Fp4BlockScale(num::BlockAmax(block, kBlock));
      p.scales[(static_cast<size_t>(g) * blocks + b) * L + lane] = s;
      for (int i = 0; i < kBlock; i += 2) {
        const float u0 = 2 * block[i] / s, u1 = 2 * block[i + 1] / s;
        if (u0 != std::nearbyint(u0) || u1 != std::nearbyint(u1) || std::fabs(u0) > 12 || std::fabs(u1) > 12) {
          Fail(StatusCode::kInvalidArgument, "IndexerScores: query head " + std::to_string(h) + " is not on the FP4 grid in block " +
                                                 std::to_string(b));
        }
        p.pairs[(static_cast<size_t>(g) * half + (b * kBlock + i) / 2) * L + lane] =
            PackPair(static_cast<int>(u0), static_cast<int>(u1));
      }
    }
  }
  return p;
}

// Keys [first, first + kTileKeys) decoded: pairs [key][dim / 2] (see KeyTables), scales
// [key][dim / kBlock]; keys past `count` decode key `first` again (their scores are not kept).
void DecodeKeys(const CpuKvMemory& memory, const KvRows& keys, int64_t first, int64_t count, int dim, int32_t* pairs,
                float* scales) {
  const KeyTables& t = Tables();
  const int half = dim / 2, blocks = dim / kBlock;
  for (int k = 0; k < kTileKeys; ++k) {
    const uint8_t* row = memory.RowOf(keys, first + (k < count ? k : 0));
    for (int p = 0; p < half; ++p) pairs[k * half + p] = t.pair[row[p]];
    for (int b = 0; b < blocks; ++b) scales[k * blocks + b] = t.scale[row[half + b]];
  }
}

}  // namespace
}  // namespace deepseek::backend::cpu
#endif  // DEEPSEEK_INDEXER_SCORES_ONCE

HWY_BEFORE_NAMESPACE();
namespace deepseek::backend::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
using DI = hn::RebindToSigned<DF>;
using VI = hn::Vec<DI>;
using DU = hn::RebindToUnsigned<DF>;

// bf16(x) for every lane: round to nearest even at bit 16 (no NaN reaches here).
HWY_INLINE VF RoundBf16(DF df, VF x) {
  const DU du;
  const auto bits = hn::BitCast(du, x);
  const auto lsb = hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 1));
  const auto rounded = hn::Add(hn::Add(bits, hn::Set(du, 0x7fff)), lsb);
  return hn::BitCast(df, hn::And(rounded, hn::Set(du, 0xffff0000u)));
}

// Lane by lane, the products of the two int16 halves of q and k, added to the accumulators
// (their sum, after Combine, is the pairs' dot products).
HWY_INLINE void PairDotAdd(DI di, VI q, VI k, VI& sum0, VI& sum1) {
#if HWY_TARGET == HWY_SCALAR  // one lane: the halves are split by hand
  (void)di;
  const VI q_lo = hn::ShiftRight<16>(hn::ShiftLeft<16>(q)), k_lo = hn::ShiftRight<16>(hn::ShiftLeft<16>(k));
  sum0 = hn::Add(sum0, hn::Mul(q_lo, k_lo));
  sum1 = hn::Add(sum1, hn::Mul(hn::ShiftRight<16>(q), hn::ShiftRight<16>(k)));
#else
  const hn::Repartition<int16_t, DI> d16;
  sum0 = hn::ReorderWidenMulAccumulate(di, hn::BitCast(d16, q), hn::BitCast(d16, k), sum0, sum1);
#endif
}
HWY_INLINE VI Combine(VI sum0, VI sum1) {
#if HWY_TARGET == HWY_SCALAR
  return hn::Add(sum0, sum1);
#else
  return hn::RearrangeToOddPlusEven(sum0, sum1);
#endif
}

// For one query and four keys (pairs [4][dim / 2], key_scales [4][dim / kBlock]), every
// head's term bf16(max(bf16(dot), 0) · w) into terms [4][groups · lanes].
void HeadTerms(const PreparedQuery& q, int dim, const int32_t* pairs, const float* key_scales, float* terms) {
  const DF df;
  const DI di;
  const size_t lanes = hn::Lanes(di);
  const int half = dim / 2, blocks = dim / kBlock, width = q.groups * static_cast<int>(lanes);
  for (int g = 0; g < q.groups; ++g) {
    const int32_t* qp = q.pairs.data() + static_cast<size_t>(g) * half * lanes;
    VF dot0 = hn::Zero(df), dot1 = dot0, dot2 = dot0, dot3 = dot0;
    for (int blk = 0; blk < blocks; ++blk) {
      // (Named accumulators, not arrays: vectors of scalable targets cannot be array elements.)
      VI a0 = hn::Zero(di), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, e0 = a0, e1 = a0;
      for (int p = blk * kBlock / 2; p < (blk + 1) * kBlock / 2; ++p) {
        const VI qv = hn::LoadU(di, qp + static_cast<size_t>(p) * lanes);
        PairDotAdd(di, qv, hn::Set(di, pairs[p]), a0, a1);
        PairDotAdd(di, qv, hn::Set(di, pairs[half + p]), b0, b1);
        PairDotAdd(di, qv, hn::Set(di, pairs[2 * half + p]), c0, c1);
        PairDotAdd(di, qv, hn::Set(di, pairs[3 * half + p]), e0, e1);
      }
      // Each block's exact sum (of doubled values: 4 × the sum of q / s · k), scaled, added in
      // ascending block order.
      const VF qs = hn::LoadU(df, q.scales.data() + (static_cast<size_t>(g) * blocks + blk) * lanes);
      const auto add_block = [&](VF& dot, VI sum, int key) HWY_ATTR {
        const VF exact = hn::Mul(hn::ConvertTo(df, sum), hn::Set(df, 0.25f));
        dot = hn::Add(dot, hn::Mul(exact, hn::Mul(qs, hn::Set(df, key_scales[key * blocks + blk]))));
      };
      add_block(dot0, Combine(a0, a1), 0);
      add_block(dot1, Combine(b0, b1), 1);
      add_block(dot2, Combine(c0, c1), 2);
      add_block(dot3, Combine(e0, e1), 3);
    }
    const VF w = hn::LoadU(df, q.weights.data() + static_cast<size_t>(g) * lanes);
    const auto store = [&](VF dot, int key) HWY_ATTR {
      const VF relu = hn::Max(RoundBf16(df, dot), hn::Zero(df));
      hn::Store(RoundBf16(df, hn::Mul(relu, w)), df, terms + key * width + static_cast<size_t>(g) * lanes);
    };
    store(dot0, 0);
    store(dot1, 1);
    store(dot2, 2);
    store(dot3, 3);
  }
}

void IndexerScoresImpl(const float* q, const float* w, int64_t n, int heads, const CpuKvMemory& memory,
                       const KvRows& keys, std::span<const int64_t> visible, float* scores, int64_t stride,
                       ThreadPool& pool) {
  const DI di;
  const size_t lanes = hn::Lanes(di);
  const int dim = memory.pool(keys.pool).row.dim;
  std::vector<PreparedQuery> prepared;
  for (int64_t i = 0; i < n; ++i) prepared.push_back(Prepare(q + i * heads * dim, w + i * heads, heads, dim, lanes));
  const int width = prepared.front().groups * static_cast<int>(lanes);
  const int64_t most = *std::max_element(visible.begin(), visible.end());
  const int64_t tiles = (most + kTileKeys - 1) / kTileKeys;
  pool.ParallelFor(tiles, [&](int64_t begin, int64_t end, int) {
    auto pairs = hwy::AllocateAligned<int32_t>(static_cast<size_t>(kTileKeys) * (dim / 2));
    auto key_scales = hwy::AllocateAligned<float>(static_cast<size_t>(kTileKeys) * (dim / kBlock));
    auto terms = hwy::AllocateAligned<float>(static_cast<size_t>(kTileKeys) * width);
    for (int64_t t = begin; t < end; ++t) {
      const int64_t first = t * kTileKeys;
      const int64_t count = std::min<int64_t>(kTileKeys, most - first);
      DecodeKeys(memory, keys, first, count, dim, pairs.get(), key_scales.get());
      for (int64_t i = 0; i < n; ++i) {
        const int64_t keep = std::min<int64_t>(count, visible[static_cast<size_t>(i)] - first);
        if (keep <= 0) continue;
        const PreparedQuery& pq = prepared[static_cast<size_t>(i)];
        for (int k = 0; k < kTileKeys; k += 4) {
          HeadTerms(pq, dim, pairs.get() + k * (dim / 2), key_scales.get() + k * (dim / kBlock), terms.get() + k * width);
        }
        // The heads in ascending order: one chain of dependent adds per key, the tile's keys
        // side by side so that the chains overlap.
        std::array<float, kTileKeys> total{};
        for (int h = 0; h < heads; ++h) {
          for (int k = 0; k < kTileKeys; ++k) total[static_cast<size_t>(k)] += terms[static_cast<size_t>(k * width + h)];
        }
        for (int64_t k = 0; k < keep; ++k) scores[i * stride + first + k] = num::RoundBf16(total[static_cast<size_t>(k)]);
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

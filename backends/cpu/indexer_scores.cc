// The CSA indexer's scores over MXFP4 keys, compiled once per Highway target. An e2m1 value
// doubled is a small integer (|2v| ≤ 12), and so is a query value on the FP4 grid divided by
// its block's scale and doubled: within a block of 32 dims the products sum exactly in
// integers. x86 multiplies bytes (vpmaddubsw: unsigned × signed, pairs summed into 16 bits),
// so keys are stored offset to 2v + 12 ∈ [0, 24] and 12 × the block's sum of the query taken
// off again; four dims of a head go in each 32-bit lane, heads across the lanes. A key's
// values are decoded once per tile of keys and broadcast, every query vector loaded serves
// four keys. The blocks' exact sums are scaled and added in ascending order in fp32, then the
// heads in ascending order, as the contract says, so each key's score is the same on every
// target and for any batching.
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
#include "backends/cpu/round_bf16-inl.h"
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

constexpr int kKeyOffset = 12;  // doubled key values are stored + 12, as bytes in [0, 24]

// Four bytes as one 32-bit word, the first lowest (the order of dims in memory).
int32_t PackQuad(int b0, int b1, int b2, int b3) {
  const auto byte = [](int v, int shift) { return static_cast<uint32_t>(static_cast<uint8_t>(v)) << shift; };
  return static_cast<int32_t>(byte(b0, 0) | byte(b1, 8) | byte(b2, 16) | byte(b3, 24));
}

// Every key byte's two e2m1 values (low nibble = even dim) doubled and offset, as two bytes;
// and every e8m0 code's scale.
struct KeyTables {
  std::array<uint16_t, 256> pair;
  std::array<float, 256> scale;
};

const KeyTables& Tables() {
  static const KeyTables tables = [] {
    KeyTables t{};
    for (int b = 0; b < 256; ++b) {
      const auto stored = [](int nibble) {
        return static_cast<uint16_t>(2 * num::E2m1ToFloat(static_cast<uint8_t>(nibble)) + kKeyOffset);
      };
      t.pair[static_cast<size_t>(b)] = static_cast<uint16_t>(stored(b & 0xf) | stored(b >> 4) << 8);
      t.scale[static_cast<size_t>(b)] = num::E8m0ToFloat(static_cast<uint8_t>(b));
    }
    return t;
  }();
  return tables;
}

// A query laid out for `lanes` heads per vector ("group"; heads past the last are zeros).
struct PreparedQuery {
  int groups = 0;
  std::vector<int32_t> quads;    // [groups][dim / 4][lanes]: doubled q / s_block of 4 dims, as bytes
  std::vector<int32_t> offsets;  // [groups][dim / kBlock][lanes]: kKeyOffset × Σ of the block's bytes
  std::vector<float> scales;     // [groups][dim / kBlock][lanes]: s_block
  std::vector<float> weights;    // [groups · lanes]: w, 0 past the last head
};

PreparedQuery Prepare(const float* q, const float* w, int heads, int dim, size_t lanes) {
  const int blocks = dim / kBlock, quads = dim / 4, L = static_cast<int>(lanes);
  PreparedQuery p;
  p.groups = (heads + L - 1) / L;
  p.quads.assign(static_cast<size_t>(p.groups) * quads * L, 0);
  p.offsets.assign(static_cast<size_t>(p.groups) * blocks * L, 0);
  p.scales.assign(static_cast<size_t>(p.groups) * blocks * L, 1.0f);
  p.weights.assign(static_cast<size_t>(p.groups) * L, 0.0f);
  for (int h = 0; h < heads; ++h) {
    const int g = h / L, lane = h % L;
    p.weights[static_cast<size_t>(h)] = w[h];
    for (int b = 0; b < blocks; ++b) {
      const float* block = q + static_cast<size_t>(h) * dim + b * kBlock;
      const float s = num::Fp4BlockScale(num::BlockAmax(block, kBlock));
      const size_t at = (static_cast<size_t>(g) * blocks + b) * L + lane;
      p.scales[at] = s;
      int doubled[kBlock], sum = 0;
      for (int i = 0; i < kBlock; ++i) {
        const float u = 2 * block[i] / s;
        if (u != std::nearbyint(u) || std::fabs(u) > 12) {
          Fail(StatusCode::kInvalidArgument, "IndexerScores: query head " + std::to_string(h) + " is not on the FP4 grid in block " +
                                                 std::to_string(b));
        }
        doubled[i] = static_cast<int>(u);
        sum += doubled[i];
      }
      p.offsets[at] = kKeyOffset * sum;
      for (int i = 0; i < kBlock; i += 4) {
        p.quads[(static_cast<size_t>(g) * quads + (b * kBlock + i) / 4) * L + lane] =
            PackQuad(doubled[i], doubled[i + 1], doubled[i + 2], doubled[i + 3]);
      }
    }
  }
  return p;
}

// Keys [first, first + kTileKeys) decoded: quads [key][dim / 4] (the stored bytes of 4 dims
// per word, see KeyTables), scales [key][dim / kBlock]; keys past `count` decode key `first`
// again (their scores are not kept).
void DecodeKeys(const CpuKvMemory& memory, const KvRows& keys, int64_t first, int64_t count, int dim, int32_t* quads,
                float* scales) {
  const KeyTables& t = Tables();
  const int words = dim / 4, blocks = dim / kBlock;
  for (int k = 0; k < kTileKeys; ++k) {
    const uint8_t* row = memory.RowOf(keys, first + (k < count ? k : 0));
    for (int c = 0; c < words; ++c) {
      quads[k * words + c] = static_cast<int32_t>(t.pair[row[2 * c]] | static_cast<uint32_t>(t.pair[row[2 * c + 1]]) << 16);
    }
    for (int b = 0; b < blocks; ++b) scales[k * blocks + b] = t.scale[row[dim / 2 + b]];
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

// Per 32-bit lane: Σ over its four bytes of key (unsigned) × query (signed), accumulated over
// the steps of a block and then widened by BlockSum. x86 sums byte pairs into 16 bits
// (vpmaddubsw; a block's |sum| ≤ 8 steps × 2 × 24 × 12 stays far inside int16) and the two
// 16-bit halves of a lane at the end; other targets go through 32-bit lanes byte by byte.
#undef DEEPSEEK_INDEXER_BYTE_MADD  // this file is compiled once per target
#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
#define DEEPSEEK_INDEXER_BYTE_MADD 1
HWY_INLINE __m128i MulBytePairs(__m128i u, __m128i s) { return _mm_maddubs_epi16(u, s); }
#if HWY_TARGET <= HWY_AVX2
HWY_INLINE __m256i MulBytePairs(__m256i u, __m256i s) { return _mm256_maddubs_epi16(u, s); }
#endif
#if HWY_TARGET <= HWY_AVX3
HWY_INLINE __m512i MulBytePairs(__m512i u, __m512i s) { return _mm512_maddubs_epi16(u, s); }
#endif
#endif

HWY_INLINE VI QuadDotAdd(DI di, VI key, VI q, VI acc) {
#ifdef DEEPSEEK_INDEXER_BYTE_MADD
  const hn::Repartition<int16_t, DI> d16;
  const hn::Vec<decltype(d16)> products{MulBytePairs(key.raw, q.raw)};
  return hn::BitCast(di, hn::Add(hn::BitCast(d16, acc), products));
#else
  const VI mask = hn::Set(di, 0xff);
  const VI k0 = hn::And(key, mask), k1 = hn::And(hn::ShiftRight<8>(key), mask);
  const VI k2 = hn::And(hn::ShiftRight<16>(key), mask), k3 = hn::And(hn::ShiftRight<24>(key), mask);
  const VI q0 = hn::ShiftRight<24>(hn::ShiftLeft<24>(q)), q1 = hn::ShiftRight<24>(hn::ShiftLeft<16>(q));
  const VI q2 = hn::ShiftRight<24>(hn::ShiftLeft<8>(q)), q3 = hn::ShiftRight<24>(q);
  return hn::Add(acc, hn::Add(hn::Add(hn::Mul(k0, q0), hn::Mul(k1, q1)), hn::Add(hn::Mul(k2, q2), hn::Mul(k3, q3))));
#endif
}

// A block's exact Σ 2k · 2u per lane from its accumulated products: widened, less the keys'
// offset times the query's sum.
HWY_INLINE VI BlockSum(DI di, VI acc, VI offset) {
#ifdef DEEPSEEK_INDEXER_BYTE_MADD
  const hn::Repartition<int16_t, DI> d16;
  VI unused = hn::Zero(di);  // x86 keeps the pairs' sums in the first accumulator
  return hn::Sub(hn::ReorderWidenMulAccumulate(di, hn::BitCast(d16, acc), hn::Set(d16, 1), hn::Zero(di), unused), offset);
#else
  (void)di;
  return hn::Sub(acc, offset);
#endif
}

// For one query and four keys (quads [4][dim / 4], key_scales [4][dim / kBlock]), every
// head's term bf16(max(bf16(dot), 0) · w) into terms [4][groups · lanes].
void HeadTerms(const PreparedQuery& q, int dim, const int32_t* quads, const float* key_scales, float* terms) {
  const DF df;
  const DI di;
  const size_t lanes = hn::Lanes(di);
  const int words = dim / 4, blocks = dim / kBlock, width = q.groups * static_cast<int>(lanes);
  for (int g = 0; g < q.groups; ++g) {
    const int32_t* qw = q.quads.data() + static_cast<size_t>(g) * words * lanes;
    VF dot0 = hn::Zero(df), dot1 = dot0, dot2 = dot0, dot3 = dot0;
    for (int blk = 0; blk < blocks; ++blk) {
      // (Named accumulators, not arrays: vectors of scalable targets cannot be array elements.)
      VI a = hn::Zero(di), b = a, c = a, e = a;
      for (int w = blk * kBlock / 4; w < (blk + 1) * kBlock / 4; ++w) {
        const VI qv = hn::LoadU(di, qw + static_cast<size_t>(w) * lanes);
        a = QuadDotAdd(di, hn::Set(di, quads[w]), qv, a);
        b = QuadDotAdd(di, hn::Set(di, quads[words + w]), qv, b);
        c = QuadDotAdd(di, hn::Set(di, quads[2 * words + w]), qv, c);
        e = QuadDotAdd(di, hn::Set(di, quads[3 * words + w]), qv, e);
      }
      // Each block's exact sum (of doubled values: 4 × the sum of q / s · k), scaled, added in
      // ascending block order.
      const size_t at = (static_cast<size_t>(g) * blocks + blk) * lanes;
      const VI offset = hn::LoadU(di, q.offsets.data() + at);
      const VF qs = hn::LoadU(df, q.scales.data() + at);
      const auto add_block = [&](VF& dot, VI acc, int key) HWY_ATTR {
        const VF exact = hn::Mul(hn::ConvertTo(df, BlockSum(di, acc, offset)), hn::Set(df, 0.25f));
        dot = hn::Add(dot, hn::Mul(exact, hn::Mul(qs, hn::Set(df, key_scales[key * blocks + blk]))));
      };
      add_block(dot0, a, 0);
      add_block(dot1, b, 1);
      add_block(dot2, c, 2);
      add_block(dot3, e, 3);
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
    auto quads = hwy::AllocateAligned<int32_t>(static_cast<size_t>(kTileKeys) * (dim / 4));
    auto key_scales = hwy::AllocateAligned<float>(static_cast<size_t>(kTileKeys) * (dim / kBlock));
    auto terms = hwy::AllocateAligned<float>(static_cast<size_t>(kTileKeys) * width);
    for (int64_t t = begin; t < end; ++t) {
      const int64_t first = t * kTileKeys;
      const int64_t count = std::min<int64_t>(kTileKeys, most - first);
      DecodeKeys(memory, keys, first, count, dim, quads.get(), key_scales.get());
      for (int64_t i = 0; i < n; ++i) {
        const int64_t keep = std::min<int64_t>(count, visible[static_cast<size_t>(i)] - first);
        if (keep <= 0) continue;
        const PreparedQuery& pq = prepared[static_cast<size_t>(i)];
        for (int k = 0; k < kTileKeys; k += 4) {
          HeadTerms(pq, dim, quads.get() + k * (dim / 4), key_scales.get() + k * (dim / kBlock), terms.get() + k * width);
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

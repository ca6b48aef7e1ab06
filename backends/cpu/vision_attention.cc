// The vision tower's attention, compiled once per Highway target: a tile of queries at a time,
// their scores against every key (FMAs over the head's dims, keys across the lanes), the
// softmax with a vectorised exp, then the weighted sum of the values (value dims across the
// lanes). The scores of a tile stay in the caches, so the n × n matrix is never written out.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/vision_attention.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <algorithm>
#include <cmath>
#include <new>

#include "backends/cpu/vision_attention.h"
#include "core/numerics.h"
#include "hwy/aligned_allocator.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace deepseek::backend::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// Queries per register block: each loaded key or value vector meets four of them (4 × 2
// accumulators). A tile of 16 queries shares every pass over the keys and values, which go by
// in tiles of 128 (kᵀ and v of a tile, 32 KB each for 64-dim heads, stay in L1/L2 while the
// tile's four blocks use them): each head's keys and values are read from L3 once per 16
// queries instead of once per 4.
constexpr int64_t kBlockQueries = 4;
constexpr int64_t kTileQueries = kVisionAttentionTileQueries;
constexpr int64_t kTileKeys = 128;
static_assert(kTileKeys % kVisionAttentionPad == 0 && kTileQueries % kBlockQueries == 0);

// s[r][j] = scale · q_r·k_j for the block's queries and the keys [j0, j1) (row stride n_pad).
void Scores(const float* const q[kBlockQueries], const float* kt, int64_t n_pad, int64_t j0, int64_t j1, int64_t hd,
            float scale, float* s) {
  const DF df;
  const int64_t L = static_cast<int64_t>(hn::Lanes(df));
  for (int64_t j = j0; j < j1; j += 2 * L) {
    VF a[kBlockQueries][2];
    for (auto& row : a) row[0] = row[1] = hn::Zero(df);
    for (int64_t d = 0; d < hd; ++d) {
      const VF k0 = hn::LoadU(df, kt + d * n_pad + j), k1 = hn::LoadU(df, kt + d * n_pad + j + L);
      for (int64_t r = 0; r < kBlockQueries; ++r) {
        const VF qv = hn::Set(df, q[r][d]);
        a[r][0] = hn::MulAdd(qv, k0, a[r][0]);
        a[r][1] = hn::MulAdd(qv, k1, a[r][1]);
      }
    }
    const VF sv = hn::Set(df, scale);
    for (int64_t r = 0; r < kBlockQueries; ++r) {
      hn::StoreU(hn::Mul(a[r][0], sv), df, s + r * n_pad + j);
      hn::StoreU(hn::Mul(a[r][1], sv), df, s + r * n_pad + j + L);
    }
  }
}

// One row of scores [n_pad] (keys n .. n_pad − 1 padding) into probabilities: exp(s − max) / Σ,
// the padding 0.
void Softmax(float* s, int64_t n, int64_t n_pad) {
  const DF df;
  const int64_t L = static_cast<int64_t>(hn::Lanes(df));
  std::fill(s + n, s + n_pad, -INFINITY);
  VF mv = hn::Set(df, -INFINITY);
  for (int64_t j = 0; j < n_pad; j += L) mv = hn::Max(mv, hn::LoadU(df, s + j));
  const VF max = hn::Set(df, hn::GetLane(hn::MaxOfLanes(df, mv)));
  // Differences below −104 give 0 either way; clamped, the padding's −inf never reaches Exp's
  // conversion to an integer.
  const VF floor = hn::Set(df, -200.0f);
  VF sum = hn::Zero(df);
  for (int64_t j = 0; j < n_pad; j += L) {
    const VF e = hn::Exp(df, hn::Max(hn::Sub(hn::LoadU(df, s + j), max), floor));
    hn::StoreU(e, df, s + j);
    sum = hn::Add(sum, e);
  }
  const VF total = hn::Set(df, hn::GetLane(hn::SumOfLanes(df, sum)));
  for (int64_t j = 0; j < n_pad; j += L) hn::StoreU(hn::Div(hn::LoadU(df, s + j), total), df, s + j);
}

// o[r][d] (+)= Σ_j p[r][j] · v[j][d] over the keys [j0, j1) in ascending order, for the block's
// queries (p's row stride n_pad): the first tile starts the sums, later ones continue them,
// so each is one chain over all keys.
void WeightedValues(const float* p, const float* v, int64_t n_pad, int64_t j0, int64_t j1, int64_t hd_pad, float* o) {
  const DF df;
  const int64_t L = static_cast<int64_t>(hn::Lanes(df));
  for (int64_t d = 0; d < hd_pad; d += 2 * L) {
    VF a[kBlockQueries][2];
    for (int64_t r = 0; r < kBlockQueries; ++r) {
      a[r][0] = j0 == 0 ? hn::Zero(df) : hn::LoadU(df, o + r * hd_pad + d);
      a[r][1] = j0 == 0 ? hn::Zero(df) : hn::LoadU(df, o + r * hd_pad + d + L);
    }
    for (int64_t j = j0; j < j1; ++j) {
      const VF v0 = hn::LoadU(df, v + j * hd_pad + d), v1 = hn::LoadU(df, v + j * hd_pad + d + L);
      for (int64_t r = 0; r < kBlockQueries; ++r) {
        const VF pv = hn::Set(df, p[r * n_pad + j]);
        a[r][0] = hn::MulAdd(pv, v0, a[r][0]);
        a[r][1] = hn::MulAdd(pv, v1, a[r][1]);
      }
    }
    for (int64_t r = 0; r < kBlockQueries; ++r) {
      hn::StoreU(a[r][0], df, o + r * hd_pad + d);
      hn::StoreU(a[r][1], df, o + r * hd_pad + d + L);
    }
  }
}

}  // namespace

void AttendVisionHeadImpl(const float* q, int64_t q_stride, const float* kt, const float* v, int64_t n, int64_t hd,
                          float scale, int64_t q_begin, int64_t q_end, float* out, int64_t out_stride) {
  static_assert(2 * HWY_LANES(float) <= kVisionAttentionPad);
  const int64_t n_pad = PadForVisionAttention(n), hd_pad = PadForVisionAttention(hd);
  const auto s = hwy::AllocateAligned<float>(static_cast<size_t>(kTileQueries * n_pad));
  const auto o = hwy::AllocateAligned<float>(static_cast<size_t>(kTileQueries * hd_pad));
  if (!s || !o) throw std::bad_alloc();
  for (int64_t i = q_begin; i < q_end; i += kTileQueries) {
    const int64_t count = std::min(kTileQueries, q_end - i), blocks = (count + kBlockQueries - 1) / kBlockQueries;
    // A partial block repeats the tile's last query and drops the duplicates.
    const float* rows[kTileQueries];
    for (int64_t r = 0; r < kTileQueries; ++r) rows[r] = q + (i + std::min(r, count - 1)) * q_stride;
    for (int64_t j0 = 0; j0 < n_pad; j0 += kTileKeys) {
      for (int64_t b = 0; b < blocks; ++b) {
        Scores(rows + b * kBlockQueries, kt, n_pad, j0, std::min(n_pad, j0 + kTileKeys), hd, scale, s.get() + b * kBlockQueries * n_pad);
      }
    }
    for (int64_t r = 0; r < blocks * kBlockQueries; ++r) Softmax(s.get() + r * n_pad, n, n_pad);
    for (int64_t j0 = 0; j0 < n_pad; j0 += kTileKeys) {
      for (int64_t b = 0; b < blocks; ++b) {
        WeightedValues(s.get() + b * kBlockQueries * n_pad, v, n_pad, j0, std::min(n_pad, j0 + kTileKeys), hd_pad,
                       o.get() + b * kBlockQueries * hd_pad);
      }
    }
    for (int64_t r = 0; r < count; ++r) {
      for (int64_t d = 0; d < hd; ++d) out[(i - q_begin + r) * out_stride + d] = num::RoundBf16(o[r * hd_pad + d]);
    }
  }
}

}  // namespace deepseek::backend::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace deepseek::backend::cpu {
HWY_EXPORT(AttendVisionHeadImpl);
void AttendVisionHead(const float* q, int64_t q_stride, const float* kt, const float* v, int64_t n, int64_t hd, float scale,
                      int64_t q_begin, int64_t q_end, float* out, int64_t out_stride) {
  HWY_DYNAMIC_DISPATCH(AttendVisionHeadImpl)(q, q_stride, kt, v, n, hd, scale, q_begin, q_end, out, out_stride);
}
}  // namespace deepseek::backend::cpu
#endif  // HWY_ONCE

// Per-target matmul kernels behind matmul.h, shared by the matmul_<format>.cc instances: one
// decoder ("codec") per weight format, the fused decode-and-dot for n == 1 (each weight byte is
// read once) and decode-a-tile-then-multiply for n > 1, both summing in one canonical order. foreach_target includes this file
// once per Highway target, hence the toggling guard instead of #pragma once.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <new>

#include "backends/backend.h"
#include "backends/cpu/matmul.h"
#include "core/numerics.h"
#include "core/unaligned.h"
#include "core/thread_pool.h"
#include "hwy/aligned_allocator.h"
#include "hwy/cache_control.h"

#if defined(DEEPSEEK_BACKENDS_CPU_MATMUL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DEEPSEEK_BACKENDS_CPU_MATMUL_INL_H_
#undef DEEPSEEK_BACKENDS_CPU_MATMUL_INL_H_
#else
#define DEEPSEEK_BACKENDS_CPU_MATMUL_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace deepseek::backend::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// A codec decodes one "step" of 2·Lanes(df) columns of a weight row, starting at a multiple of
// the step, into two vectors. With kInterleaved they hold the even and the odd columns of the
// step (MXFP4 packs a column pair into one byte), otherwise its first and second half. Decoded
// values are weight / kOutputScale, a power of two multiplied back into the result (exactly).
// Scalar() returns the exact weight of one column, for the columns after the last full step.
// A step never straddles a scale block: it is at most 32 columns, which divides both blocks.
static_assert(2 * HWY_LANES(float) <= kMxfp4BlockSize && kFp8BlockSize % kMxfp4BlockSize == 0);

// While the n == 1 kernel reads a group of rows it prefetches the next group into L2, each
// cache line once: the hardware prefetchers stop at 4 KiB page boundaries. Every codec's Row
// starts at its weight bytes (w) and tells how many bits a column takes (kColumnBits).
inline constexpr int64_t kCacheLine = 64;

struct F32Codec {
  static constexpr bool kInterleaved = false;
  static constexpr float kOutputScale = 1.0f;
  struct Row {
    const float* w;
  };
  static Row RowAt(const WeightMatrix& m, int64_t r) {
    return {static_cast<const float*>(m.data) + r * m.cols};
  }
  static HWY_INLINE void Decode(DF df, const Row& row, int64_t c, VF& a, VF& b) {
    a = hn::LoadU(df, row.w + c);
    b = hn::LoadU(df, row.w + c + hn::Lanes(df));
  }
  static float Scalar(const Row& row, int64_t c) { return LoadUnaligned<float>(row.w, c); }
  static constexpr int64_t kColumnBits = 32;
};

struct Bf16Codec {
  static constexpr bool kInterleaved = false;
  static constexpr float kOutputScale = 1.0f;
  struct Row {
    const uint16_t* w;
  };
  static Row RowAt(const WeightMatrix& m, int64_t r) {
    return {static_cast<const uint16_t*>(m.data) + r * m.cols};
  }
  static HWY_INLINE VF Load(DF df, const uint16_t* p) {
    const hn::Rebind<uint16_t, DF> du16;
    const hn::RebindToUnsigned<DF> du32;
    return hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(du16, p))));
  }
  static HWY_INLINE void Decode(DF df, const Row& row, int64_t c, VF& a, VF& b) {
    a = Load(df, row.w + c);
    b = Load(df, row.w + c + hn::Lanes(df));
  }
  static float Scalar(const Row& row, int64_t c) { return num::Bf16ToFloat(LoadUnaligned<uint16_t>(row.w, c)); }
  static constexpr int64_t kColumnBits = 16;
};

// bf16 bit patterns of the e4m3fn magnitudes 0..127 (127 is NaN): every e4m3 value is exact
// in bf16, subnormals included (they are bf16 normals).
constexpr uint16_t E4m3MagnitudeBf16Bits(int m) {
  const int exp = m >> 3, man = m & 7;
  if (m == 0x7f) return 0x7fc0;
  if (exp > 0) return static_cast<uint16_t>(((exp + 120) << 7) | (man << 4));
  if (man == 0) return 0;
  const int p = man >= 4 ? 2 : man >= 2 ? 1 : 0;  // man · 2^-9 = 2^(p-9) · (man / 2^p)
  return static_cast<uint16_t>(((118 + p) << 7) | ((man - (1 << p)) << (7 - p)));
}

struct Fp8Codec {
#if HWY_TARGET <= HWY_AVX3 && HWY_ARCH_X86
  // AVX-512: a 32-code step becomes 32 bf16 words through two-register word permutes (six
  // operations, three of them shuffles, where the binary16 route below needs twice as many);
  // the even and odd words are the even and odd columns.
  static constexpr bool kInterleaved = true;
  static constexpr float kOutputScale = 1.0f;
#else
  static constexpr bool kInterleaved = false;
  // Decoding goes through binary16, whose exponent bias is 15 instead of e4m3's 7.
  static constexpr float kOutputScale = 256.0f;
#endif
  struct Row {
    const uint8_t* w;
    const uint8_t* scales;  // the scale codes of this row's 128-row block
  };
  static Row RowAt(const WeightMatrix& m, int64_t r) {
    return {static_cast<const uint8_t*>(m.data) + r * m.cols,
            m.scales + (r / kFp8BlockSize) * CeilDiv(m.cols, kFp8BlockSize)};
  }
#if HWY_TARGET <= HWY_AVX3 && HWY_ARCH_X86
  static HWY_INLINE void Decode(DF df, const Row& row, int64_t c, VF& even, VF& odd) {
    alignas(64) static constexpr auto kBits = [] {
      std::array<uint16_t, 128> t{};
      for (int m = 0; m < 128; ++m) t[static_cast<size_t>(m)] = E4m3MagnitudeBf16Bits(m);
      return t;
    }();
    const __m512i* tables = reinterpret_cast<const __m512i*>(kBits.data());
    const __m512i codes = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row.w + c)));
    // Word permutes index 64 entries with bits 0..5; bit 6 picks the table pair, bit 7 is the sign.
    const __mmask32 upper = _mm512_test_epi16_mask(codes, _mm512_set1_epi16(0x40));
    const __m512i low = _mm512_permutex2var_epi16(_mm512_load_si512(tables), codes, _mm512_load_si512(tables + 1));
    const __m512i high = _mm512_permutex2var_epi16(_mm512_load_si512(tables + 2), codes, _mm512_load_si512(tables + 3));
    const __m512i magnitude = _mm512_mask_mov_epi16(low, upper, high);
    // bits = magnitude | ((codes << 8) & 0x8000)
    const __m512i bits = _mm512_ternarylogic_epi32(magnitude, _mm512_slli_epi16(codes, 8), _mm512_set1_epi16(static_cast<int16_t>(0x8000)), 0xf8);
    const VF scale = hn::Set(df, kE8m0Scale[row.scales[c / kFp8BlockSize]]);
    even = hn::Mul(VF{_mm512_castsi512_ps(_mm512_slli_epi32(bits, 16))}, scale);
    odd = hn::Mul(VF{_mm512_castsi512_ps(_mm512_and_si512(bits, _mm512_set1_epi32(static_cast<int>(0xffff0000u))))}, scale);
  }
#else
  // e4m3fn / 256: the 7 magnitude bits moved to the top of a binary16 exponent and mantissa
  // read as the same value with bias 15. binary16 -> binary32 is exact, subnormals included
  // (F16C on AVX2 and up, emulated below), and unaffected by denormals-are-zero.
  static HWY_INLINE VF Load(DF df, const uint8_t* p) {
    const hn::Rebind<uint8_t, DF> du8;
    const hn::Rebind<uint16_t, DF> du16;
    const hn::Rebind<hwy::float16_t, DF> df16;
    // code << 7 puts the magnitude in bits 7..13 and the sign in bit 14; adding bit 14 to
    // itself moves the sign to bit 15.
    const auto shifted = hn::ShiftLeft<7>(hn::PromoteTo(du16, hn::LoadU(du8, p)));
    const auto bits = hn::Add(shifted, hn::And(shifted, hn::Set(du16, 0x4000)));
    const VF v = hn::PromoteTo(df, hn::BitCast(df16, bits));
    // 0x7f and 0xff are NaN, but their bits alone read as +-1.875, which no other code gives.
    return hn::IfThenElse(hn::Eq(hn::Abs(v), hn::Set(df, 1.875f)),
                          hn::Set(df, std::numeric_limits<float>::quiet_NaN()), v);
  }
  static HWY_INLINE void Decode(DF df, const Row& row, int64_t c, VF& a, VF& b) {
    const VF scale = hn::Set(df, kE8m0Scale[row.scales[c / kFp8BlockSize]]);
    a = hn::Mul(Load(df, row.w + c), scale);
    b = hn::Mul(Load(df, row.w + c + hn::Lanes(df)), scale);
  }
#endif
  static float Scalar(const Row& row, int64_t c) {
    return num::E4m3ToFloat(row.w[c]) * num::E8m0ToFloat(row.scales[c / kFp8BlockSize]);
  }
  static constexpr int64_t kColumnBits = 8;
};

struct Mxfp4Codec {
  static constexpr bool kInterleaved = true;
  static constexpr float kOutputScale = 1.0f;
  struct Row {
    const uint8_t* w;       // cols / 2 bytes
    const uint8_t* scales;  // cols / 32 codes
  };
  static Row RowAt(const WeightMatrix& m, int64_t r) {
    return {static_cast<const uint8_t*>(m.data) + r * (m.cols / 2),
            m.scales + r * (m.cols / kMxfp4BlockSize)};
  }
  static HWY_INLINE void Decode(DF df, const Row& row, int64_t c, VF& even, VF& odd) {
#if HWY_TARGET == HWY_SCALAR
    // One lane per vector (GCC < 12.3 gets HWY_SCALAR instead of EMU128): no byte shuffles.
    even = hn::Set(df, Scalar(row, c));
    odd = hn::Set(df, Scalar(row, c + 1));
#else
    const hn::Rebind<uint8_t, DF> du8;
    const auto packed = hn::LoadU(du8, row.w + c / 2);
    const uint8_t scale_code = row.scales[c / kMxfp4BlockSize];
    if constexpr (HWY_LANES(float) == 16) {
      // One 16-lane permute holds every e2m1 value, pre-multiplied by the block's scale.
      alignas(64) static constexpr float kE2m1Values[16] = {
          0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
          -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
      const hn::RebindToSigned<DF> di32;
      const auto codes = hn::BitCast(di32, hn::PromoteTo(hn::RebindToUnsigned<DF>(), packed));
      const VF table = hn::Mul(hn::Load(df, kE2m1Values), hn::Set(df, kE8m0Scale[scale_code]));
      even =
          hn::TableLookupLanes(table, hn::IndicesFromVec(df, hn::And(codes, hn::Set(di32, 0xf))));
      odd = hn::TableLookupLanes(table, hn::IndicesFromVec(df, hn::ShiftRight<4>(codes)));
    } else {
      // Twice each e2m1 value, so that a byte shuffle yields exact integers; the halved scale
      // table undoes the doubling.
      const hn::Rebind<int8_t, DF> di8;
      const hn::Rebind<int32_t, DF> di32;
      alignas(16) static constexpr int8_t kDoubledE2m1[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                                              0, -1, -2, -3, -4, -6, -8, -12};
      const auto table = hn::Load(hn::Full128<int8_t>(), kDoubledE2m1);
      const auto lo = hn::TableLookupBytes(table, hn::And(packed, hn::Set(du8, 0x0f)));
      const auto hi = hn::TableLookupBytes(table, hn::ShiftRight<4>(packed));
      const VF scale = hn::Set(df, kE8m0HalfScale[scale_code]);
      even = hn::Mul(hn::ConvertTo(df, hn::PromoteTo(di32, hn::BitCast(di8, lo))), scale);
      odd = hn::Mul(hn::ConvertTo(df, hn::PromoteTo(di32, hn::BitCast(di8, hi))), scale);
    }
#endif
  }
  static constexpr int64_t kColumnBits = 4;
  static float Scalar(const Row& row, int64_t c) {
    const uint8_t byte = row.w[c / 2];
    return num::E2m1ToFloat(c % 2 ? byte >> 4 : byte & 0xf) *
           num::E8m0ToFloat(row.scales[c / kMxfp4BlockSize]);
  }
};

// Every output is accumulated in one canonical order, whatever n is, so that a prompt gives
// bit-identical results in one call, in chunks or token by token: columns in the codec's step
// order are summed lane-wise within blocks of kColBlock columns, each block is reduced with
// SumOfLanes and added to a running scalar in block order, that sum (in decoded units) is
// scaled by kOutputScale, and the columns after the last full step are added one by one with
// explicit fused multiply-adds (left to the compiler, contraction could differ between paths).

// Rewrites x [cols] into the codec's step order (for interleaved codecs: the even columns, then
// the odd columns of each step), once per call rather than once per weight row.
template <class Codec>
HWY_INLINE void ToStepOrder(const float* HWY_RESTRICT x, int64_t cols, float* HWY_RESTRICT out) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const int64_t full = cols - cols % (2 * lanes);
  int64_t c = 0;
  if constexpr (Codec::kInterleaved) {
    VF a, b;
    for (; c < full; c += 2 * lanes) {
      hn::LoadInterleaved2(df, x + c, a, b);
      hn::StoreU(a, df, out + c);
      hn::StoreU(b, df, out + c + lanes);
    }
  }
  std::copy(x + c, x + cols, out + c);
}

// The inputs in step order: x itself unless the codec interleaves.
template <class Codec>
class StepOrderInputs {
 public:
  StepOrderInputs(const float* x, int64_t n, int64_t cols) : data_(x) {
    if constexpr (Codec::kInterleaved) {
      copy_ = hwy::AllocateAligned<float>(static_cast<size_t>(n * cols));
      if (!copy_) throw std::bad_alloc();
      for (int64_t i = 0; i < n; ++i) ToStepOrder<Codec>(x + i * cols, cols, copy_.get() + i * cols);
      data_ = copy_.get();
    }
  }
  const float* get() const { return data_; }

 private:
  const float* data_;
  hwy::AlignedFreeUniquePtr<float[]> copy_;
};

// y[r] for rows r0 .. r0 + count − 1 (count <= 4) and one input in step order, decoding each
// weight once; the rows' independent accumulators hide the FMA latency.

template <class Codec>
HWY_INLINE void DecodeDots(const WeightMatrix& w, int64_t r0, int64_t count, const float* HWY_RESTRICT x,
                           float* HWY_RESTRICT y) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df)), step = 2 * lanes;
  const int64_t full = w.cols - w.cols % step;
  typename Codec::Row rows[4], next[4];
  for (int64_t k = 0; k < 4; ++k) rows[k] = Codec::RowAt(w, r0 + std::min(k, count - 1));
  for (int64_t k = 0; k < 4; ++k) next[k] = Codec::RowAt(w, std::min(r0 + 4 + k, w.rows - 1));
  float dot[4] = {0, 0, 0, 0};
  VF a, b;
  for (int64_t c0 = 0; c0 < full; c0 += kColBlock) {
    const int64_t c1 = std::min(full, c0 + kColBlock);
    VF s0 = hn::Zero(df), s1 = hn::Zero(df), s2 = hn::Zero(df), s3 = hn::Zero(df);
    for (int64_t c = c0; c < c1; c += step) {
      const VF x0 = hn::LoadU(df, x + c), x1 = hn::LoadU(df, x + c + lanes);
      // The cache lines that start within this step's bytes (the scale codes are few).
      for (int64_t o = CeilDiv(c * Codec::kColumnBits / 8, kCacheLine) * kCacheLine; o < (c + step) * Codec::kColumnBits / 8; o += kCacheLine) {
        for (int k = 0; k < 4; ++k) __builtin_prefetch(reinterpret_cast<const uint8_t*>(next[k].w) + o, 0, 2);
      }
      Codec::Decode(df, rows[0], c, a, b);
      s0 = hn::MulAdd(x1, b, hn::MulAdd(x0, a, s0));
      Codec::Decode(df, rows[1], c, a, b);
      s1 = hn::MulAdd(x1, b, hn::MulAdd(x0, a, s1));
      Codec::Decode(df, rows[2], c, a, b);
      s2 = hn::MulAdd(x1, b, hn::MulAdd(x0, a, s2));
      Codec::Decode(df, rows[3], c, a, b);
      s3 = hn::MulAdd(x1, b, hn::MulAdd(x0, a, s3));
    }
    const auto sum = [df](VF v) { return hn::GetLane(hn::SumOfLanes(df, v)); };
    const float part[4] = {sum(s0), sum(s1), sum(s2), sum(s3)};
    for (int k = 0; k < 4; ++k) dot[k] = c0 == 0 ? part[k] : dot[k] + part[k];
  }
  for (int64_t k = 0; k < count; ++k) {
    float v = dot[k] * Codec::kOutputScale;
    for (int64_t c = full; c < w.cols; ++c) v = std::fma(Codec::Scalar(rows[k], c), x[c], v);
    y[k] = v;
  }
}

// Writes rows [r0, r0 + count) × columns [c0, c1) of W (c0, c1 multiples of the step, c1 <=
// the last full step) to tile (row stride kColBlock) as the decoder yields them: in step order
// and in decoded units (weight / kOutputScale).
template <class Codec>
HWY_INLINE void DecodeTile(const WeightMatrix& w, int64_t r0, int64_t count, int64_t c0, int64_t c1,
                           float* HWY_RESTRICT tile) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df)), step = 2 * lanes;
  VF a, b;
  for (int64_t r = 0; r < count; ++r) {
    const typename Codec::Row row = Codec::RowAt(w, r0 + r);
    float* HWY_RESTRICT out = tile + r * kColBlock - c0;
    for (int64_t c = c0; c < c1; c += step) {
      Codec::Decode(df, row, c, a, b);
      hn::StoreU(a, df, out + c);
      hn::StoreU(b, df, out + c + lanes);
    }
  }
}

// acc[m][j] = Σ_{c ∈ [0, len)} x[m][c] · w[j][c], lane-wise in column order then reduced, for
// 4 input rows and 4 weight rows: sixteen accumulators, eight loads per sixteen FMAs.
inline void Block4x4(const float* const x[4], const float* const w[4], int64_t len, float acc[4][4]) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  VF s00 = hn::Zero(df), s01 = hn::Zero(df), s02 = hn::Zero(df), s03 = hn::Zero(df);
  VF s10 = hn::Zero(df), s11 = hn::Zero(df), s12 = hn::Zero(df), s13 = hn::Zero(df);
  VF s20 = hn::Zero(df), s21 = hn::Zero(df), s22 = hn::Zero(df), s23 = hn::Zero(df);
  VF s30 = hn::Zero(df), s31 = hn::Zero(df), s32 = hn::Zero(df), s33 = hn::Zero(df);
  for (int64_t c = 0; c < len; c += lanes) {
    const VF w0 = hn::LoadU(df, w[0] + c), w1 = hn::LoadU(df, w[1] + c);
    const VF w2 = hn::LoadU(df, w[2] + c), w3 = hn::LoadU(df, w[3] + c);
    VF xv = hn::LoadU(df, x[0] + c);
    s00 = hn::MulAdd(xv, w0, s00), s01 = hn::MulAdd(xv, w1, s01);
    s02 = hn::MulAdd(xv, w2, s02), s03 = hn::MulAdd(xv, w3, s03);
    xv = hn::LoadU(df, x[1] + c);
    s10 = hn::MulAdd(xv, w0, s10), s11 = hn::MulAdd(xv, w1, s11);
    s12 = hn::MulAdd(xv, w2, s12), s13 = hn::MulAdd(xv, w3, s13);
    xv = hn::LoadU(df, x[2] + c);
    s20 = hn::MulAdd(xv, w0, s20), s21 = hn::MulAdd(xv, w1, s21);
    s22 = hn::MulAdd(xv, w2, s22), s23 = hn::MulAdd(xv, w3, s23);
    xv = hn::LoadU(df, x[3] + c);
    s30 = hn::MulAdd(xv, w0, s30), s31 = hn::MulAdd(xv, w1, s31);
    s32 = hn::MulAdd(xv, w2, s32), s33 = hn::MulAdd(xv, w3, s33);
  }
  const auto sum = [df](VF v) { return hn::GetLane(hn::SumOfLanes(df, v)); };
  acc[0][0] = sum(s00), acc[0][1] = sum(s01), acc[0][2] = sum(s02), acc[0][3] = sum(s03);
  acc[1][0] = sum(s10), acc[1][1] = sum(s11), acc[1][2] = sum(s12), acc[1][3] = sum(s13);
  acc[2][0] = sum(s20), acc[2][1] = sum(s21), acc[2][2] = sum(s22), acc[2][3] = sum(s23);
  acc[3][0] = sum(s30), acc[3][1] = sum(s31), acc[3][2] = sum(s32), acc[3][3] = sum(s33);
}

// For all n inputs (step order, row stride `cols`) and the tile's `count` rows over the column
// block [c0, c0 + len): y[i, r0 + j] becomes the block's partial dot product (first block) or
// has it added (later blocks), the running sum of the canonical order. Partial register blocks
// repeat their last input or weight row and drop the duplicate results, so no padding is needed.
inline void MultiplyTileBlock(const float* x, int64_t n, int64_t cols, int64_t c0, int64_t len, const float* tile,
                              int64_t count, float* y, int64_t y_stride, int64_t r0) {
  float acc[4][4];
  for (int64_t i = 0; i < n; i += 4) {
    const int64_t inputs = std::min<int64_t>(4, n - i);
    const float* xr[4];
    for (int64_t m = 0; m < 4; ++m) xr[m] = x + (i + std::min(m, inputs - 1)) * cols + c0;
    for (int64_t j = 0; j < count; j += 4) {
      const int64_t outputs = std::min<int64_t>(4, count - j);
      const float* wr[4];
      for (int64_t k = 0; k < 4; ++k) wr[k] = tile + (j + std::min(k, outputs - 1)) * kColBlock;
      Block4x4(xr, wr, len, acc);
      for (int64_t m = 0; m < inputs; ++m) {
        float* out = y + (i + m) * y_stride + r0 + j;
        for (int64_t k = 0; k < outputs; ++k) out[k] = c0 == 0 ? acc[m][k] : out[k] + acc[m][k];
      }
    }
  }
}

// The whole operation for one format: one dispatch per call, then direct calls.
template <class Codec>
void MatMulT(const WeightMatrix& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  const StepOrderInputs<Codec> xs(x, n, w.cols);
  if (n == 1) {
    // Each thread streams its contiguous share of W once, four rows at a time.
    pool.ParallelFor(CeilDiv(w.rows, 4), [&](int64_t begin, int64_t end, int) {
      for (int64_t g = begin; g < end; ++g) {
        const int64_t r0 = 4 * g;
        DecodeDots<Codec>(w, r0, std::min<int64_t>(4, w.rows - r0), xs.get(), y + r0);
      }
    });
    return;
  }
  // Threads take whole tiles of kRowTile rows; each tile is decoded kColBlock columns at a time
  // into an fp32 scratch block that stays in L2 while every input is multiplied against it.
  const DF df;
  const int64_t full = w.cols - w.cols % (2 * static_cast<int64_t>(hn::Lanes(df)));
  pool.ParallelFor(CeilDiv(w.rows, kRowTile), [&](int64_t begin, int64_t end, int) {
    if (begin == end) return;
    const auto tile = hwy::AllocateAligned<float>(static_cast<size_t>(kRowTile * kColBlock));
    if (!tile) throw std::bad_alloc();
    for (int64_t t = begin; t < end; ++t) {
      const int64_t r0 = t * kRowTile, count = std::min(kRowTile, w.rows - r0);
      for (int64_t c0 = 0; c0 < full; c0 += kColBlock) {
        const int64_t c1 = std::min(full, c0 + kColBlock);
        DecodeTile<Codec>(w, r0, count, c0, c1, tile.get());
        MultiplyTileBlock(xs.get(), n, w.cols, c0, c1 - c0, tile.get(), count, y, w.rows, r0);
      }
      // Scale back from decoded units, then the columns after the last full step, exactly.
      for (int64_t i = 0; i < n; ++i) {
        const float* xi = xs.get() + i * w.cols;
        float* yi = y + i * w.rows;
        for (int64_t r = r0; r < r0 + count; ++r) {
          float v = full > 0 ? yi[r] * Codec::kOutputScale : 0.0f;
          const typename Codec::Row row = Codec::RowAt(w, r);
          for (int64_t c = full; c < w.cols; ++c) v = std::fma(Codec::Scalar(row, c), xi[c], v);
          yi[r] = v;
        }
      }
    }
  });
}

}  // namespace deepseek::backend::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DEEPSEEK_BACKENDS_CPU_MATMUL_INL_H_ toggle

// Per-target matmul kernels behind matmul.h, shared by the matmul_<format>.cc instances: one
// decoder ("codec") per weight format, the fused decode-and-dot for a few inputs (each weight
// byte is read and decoded once for all of them: decode, MTP verify, batched decode) and
// decode-a-tile-then-multiply for more, both summing in one canonical order. foreach_target includes this file
// once per Highway target, hence the toggling guard instead of #pragma once.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "backends/backend.h"
#include "backends/cpu/matmul.h"
#include "core/error.h"
#include "core/numerics.h"
#include "core/unaligned.h"
#include "hwy/aligned_allocator.h"
#include "hwy/cache_control.h"
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>  // the MXCSR (SubnormalsKept)
#endif

#if defined(DEEPSEEK_BACKENDS_CPU_MATMUL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DEEPSEEK_BACKENDS_CPU_MATMUL_INL_H_
#undef DEEPSEEK_BACKENDS_CPU_MATMUL_INL_H_
#else
#define DEEPSEEK_BACKENDS_CPU_MATMUL_INL_H_
#endif

#include "hwy/highway.h"

// AVX-512 targets carry the bf16 dot-product path too (chosen at run time, Bf16DotEnabled):
// Highway 1.0.3 has no target with AVX512_BF16.
#undef DEEPSEEK_BF16_DOT
#if HWY_TARGET <= HWY_AVX3 && HWY_ARCH_X86
#define DEEPSEEK_BF16_DOT 1
#else
#define DEEPSEEK_BF16_DOT 0
#endif
#undef DEEPSEEK_KERNEL_ATTR
#undef DEEPSEEK_BF16_PATH_ATTR
// Kernel functions on AVX-512 targets may use AVX512_BF16 instructions; they reach them only
// through the bf16 path's intrinsics (nothing here uses a bf16 scalar type the compiler could
// convert with them), so the fp32 path compiled this way still runs on CPUs without it. The
// functions only the bf16 path runs may use AVX512_VBMI too (byte permutes), which the compiler
// could also pick for code of its own: the bf16 path is enabled on CPUs with both
// (Bf16DotEnabled), and the functions the fp32 path shares do without.
#if DEEPSEEK_BF16_DOT
#define DEEPSEEK_KERNEL_ATTR __attribute__((target(HWY_TARGET_STR ",avx512bf16")))
#define DEEPSEEK_BF16_PATH_ATTR __attribute__((target(HWY_TARGET_STR ",avx512bf16,avx512vbmi")))
#else
#define DEEPSEEK_KERNEL_ATTR
#define DEEPSEEK_BF16_PATH_ATTR
#endif

HWY_BEFORE_NAMESPACE();
namespace deepseek::backend::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// A codec decodes one "step" of 2·Lanes(df) columns of a weight row, starting at a multiple of
// the step, into two vectors. With kInterleaved they hold the even and the odd columns of the
// step (MXFP4 packs a column pair into one byte), otherwise its first and second half. A codec
// may instead decode kStepVectors vectors per step (DecodeWide), in its own order of columns
// (InputsInStepOrder puts the inputs in the same order). Decoded
// values are weight / kOutputScale, a power of two multiplied back into the result (exactly).
// Scalar() returns the exact weight of one column, for the columns after the last full step.
// A step of the fp32 path never straddles a scale block: it is at most 32 columns, which
// divides both blocks. (The bf16 path's 64-column MXFP4 step reads both of its blocks' scales.)
static_assert(2 * HWY_LANES(float) <= kMxfp4BlockSize);

template <class Codec>
constexpr int kStepVectors = [] {
  if constexpr (requires { Codec::kStepVectors; }) return Codec::kStepVectors;
  return 2;
}();

template <class Codec>
constexpr int64_t kStepColumns = kStepVectors<Codec> * static_cast<int64_t>(HWY_LANES(float));

// The step at column c of a row, in step order.
template <class Codec>
HWY_INLINE void DecodeVectors(DF df, const typename Codec::Row& row, int64_t c, VF* v) {
  if constexpr (kStepVectors<Codec> == 2) {
    Codec::Decode(df, row, c, v[0], v[1]);
  } else {
    Codec::DecodeWide(df, row, c, v);
  }
}

// While the fused kernel reads a group of rows it prefetches the next group into L2, each
// cache line once: the hardware prefetchers stop at 4 KiB page boundaries. Every codec's Row
// starts at its weight bytes (w) and tells how many bits a column takes (kColumnBits).
inline constexpr int64_t kCacheLine = 64;

struct F32Codec {
  static constexpr bool kBf16Inputs = false;
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
  static constexpr bool kBf16Inputs = true;
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
#if DEEPSEEK_BF16_DOT
  // One input: one row streams at a time: more rows in flight are more concurrent streams,
  // which 8 KiB rows read slower (measured: one row 51 GB/s, four rows 41, a plain read 55), and
  // 64 bytes per dot product keep up with memory despite its 6-cycle latency. Several inputs:
  // rows share each step's inputs, up to 4 (8 inputs on Zen 4: 13 -> 18-23 GB/s from DRAM).
  static constexpr int64_t kDotRows = 4;
  static constexpr int64_t kOneInputDotRows = 1;
  static constexpr int64_t kDotStep = 32;  // columns per decode, in column order
  static constexpr bool kDotInterleaved = false;
  static constexpr bool kScaleOnInputs = false;
  static HWY_INLINE void DecodeBf16(const Row& row, int64_t c, __m512i* out) { out[0] = _mm512_loadu_si512(row.w + c); }
#endif
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

// FP8 with square blocks of kBlock × kBlock sharing a scale: 128 in V4, 32 in V4.1's dense
// tensors. Every step of either path lies within one block of columns.
template <int64_t kBlock>
struct Fp8Codec {
  static_assert(kBlock % kMxfp4BlockSize == 0 && kBlock % 4 == 0);
  static constexpr int64_t kScaleBlock = kBlock;  // rows and columns per scale
  static constexpr bool kBf16Inputs = true;
#if HWY_TARGET <= HWY_AVX3 && HWY_ARCH_X86
  // AVX-512: a 32-code step becomes 32 bf16 words through two-register word permutes (six
  // operations, three of them shuffles, where the binary16 route below needs twice as many);
  // the even and odd words are the even and odd columns.
  static constexpr bool kInterleaved = true;
  static constexpr float kOutputScale = 1.0f;
#elif HWY_TARGET != HWY_AVX2  // (AVX2 below)
  static constexpr bool kInterleaved = false;
  // Decoding goes through binary16, whose exponent bias is 15 instead of e4m3's 7.
  static constexpr float kOutputScale = 256.0f;
#endif
  struct Row {
    const uint8_t* w;
    const uint8_t* scales;  // the scale codes of this row's block of rows
  };
  static Row RowAt(const WeightMatrix& m, int64_t r) {
    return {static_cast<const uint8_t*>(m.data) + r * m.cols,
            m.scales + (r / kBlock) * CeilDiv(m.cols, kBlock)};
  }
#if HWY_TARGET <= HWY_AVX3 && HWY_ARCH_X86
  // The 32 codes of columns c .. c + 31 as bf16 words in column order, unscaled.
  static HWY_INLINE __m512i Bits(const Row& row, int64_t c) {
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
    return _mm512_ternarylogic_epi32(magnitude, _mm512_slli_epi16(codes, 8), _mm512_set1_epi16(static_cast<int16_t>(0x8000)), 0xf8);
  }
  static HWY_INLINE void Decode(DF df, const Row& row, int64_t c, VF& even, VF& odd) {
    const __m512i bits = Bits(row, c);
    const VF scale = hn::Set(df, kE8m0Scale[row.scales[c / kBlock]]);
    even = hn::Mul(VF{_mm512_castsi512_ps(_mm512_slli_epi32(bits, 16))}, scale);
    odd = hn::Mul(VF{_mm512_castsi512_ps(_mm512_and_si512(bits, _mm512_set1_epi32(static_cast<int>(0xffff0000u))))}, scale);
  }
#if DEEPSEEK_BF16_DOT
  // Four-kilobyte rows, 32 bytes per dot product: four chains in flight (measured ~15% faster
  // than the fp32 path on 4096 x 4096, two rows a little less).
  static constexpr int64_t kDotRows = 4;
  static constexpr int64_t kOneInputDotRows = 4;
  // The block scale is a power of two, so it can multiply either factor of a product and
  // leave the product unchanged: n == 1 scales the 4096 inputs once per 128-row block
  // (DecodeBf16Unscaled), tiles scale the weights they decode once for all n inputs.
  static constexpr bool kScaleOnInputs = true;
  static constexpr int64_t kDotStep = 32;
  static constexpr bool kDotInterleaved = false;
  static HWY_INLINE void DecodeBf16Unscaled(const Row& row, int64_t c, __m512i* out) { out[0] = Bits(row, c); }
  // Two steps at once (64 codes, columns c .. c + 63), unscaled, the same words as two calls
  // of DecodeBf16Unscaled: byte permutes of 128-entry tables (AVX512_VBMI) give each
  // magnitude's high and low bf16 byte, and byte interleaves make them words in column order
  // (the 8-byte groups of the codes put first in the order the interleaves take them). Five
  // shuffles for 64 codes where two steps take six, and a third of the other operations:
  // `deepseek-bench --op fp8 --rows 32768 --cols 4096 --n N --threads 1`, n = 1 / 2 / 4 from
  // 15.0-15.6 / 13.7-13.8 / 11.5-11.6 to 22.0-22.3 / 19.0-19.3 / 14.9-15.3 GB/s. (The same
  // permutes for one step of 32 codes, widened to words by a third byte permute, were slower
  // than this at n = 1, 17 GB/s, and than the word permutes at n = 8.)
  static HWY_INLINE DEEPSEEK_BF16_PATH_ATTR void DecodeBf16UnscaledWide(const Row& row, int64_t c, __m512i* out) {
    alignas(64) static constexpr auto kBytes = [] {
      std::array<uint8_t, 256> t{};  // the high bytes of the 128 magnitudes' words, then their low bytes
      for (int m = 0; m < 128; ++m) {
        t[static_cast<size_t>(m)] = static_cast<uint8_t>(E4m3MagnitudeBf16Bits(m) >> 8);
        t[static_cast<size_t>(128 + m)] = static_cast<uint8_t>(E4m3MagnitudeBf16Bits(m) & 0xff);
      }
      return t;
    }();
    const __m512i* tables = reinterpret_cast<const __m512i*>(kBytes.data());
    // 128-bit lane L takes the codes of columns 8L .. 8L + 7 and 32 + 8L .. 32 + 8L + 7.
    const __m512i codes = _mm512_permutexvar_epi64(_mm512_set_epi64(7, 3, 6, 2, 5, 1, 4, 0), _mm512_loadu_si512(row.w + c));
    // The byte permutes read index bits 0..6 (the magnitude); the sign joins the high byte.
    const __m512i high = _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(_mm512_load_si512(tables), codes, _mm512_load_si512(tables + 1)),
                                                   codes, _mm512_set1_epi8(static_cast<char>(0x80)), 0xf8);
    const __m512i low = _mm512_permutex2var_epi8(_mm512_load_si512(tables + 2), codes, _mm512_load_si512(tables + 3));
    out[0] = _mm512_unpacklo_epi8(low, high);
    out[1] = _mm512_unpackhi_epi8(low, high);
  }
  static HWY_INLINE void DecodeBf16(const Row& row, int64_t c, __m512i* out) {
    const DF df;
    VF even, odd;
    Decode(df, row, c, even, odd);
    // Exact products of bf16 values and a power of two: their low halves are zero.
    out[0] = _mm512_ternarylogic_epi32(_mm512_srli_epi32(_mm512_castps_si512(even.raw), 16), _mm512_castps_si512(odd.raw),
                                       _mm512_set1_epi32(static_cast<int>(0xffff0000u)), 0xf8);
  }
#endif
#elif HWY_TARGET == HWY_AVX2
  // A step is 32 codes in four vectors. Sign-extended to 16 bits, two codes share a 32-bit lane;
  // shifted left by 20 (the lower code) or 4 (the upper) and masked, the sign is in bit 31 and
  // the exponent and mantissa in bits 20..26, which fp32 reads as the e4m3fn value times 2^-120
  // (the bias 127 instead of 7), subnormal codes as fp32 subnormals. Five operations for 16
  // columns, one of them a shuffle, where the binary16 route below needs vcvtph2ps, which Zen 3
  // issues at half the rate and which bounded the kernel (`deepseek-bench --op fp8 --rows 16384
  // --cols 4096 --threads 2`, from DRAM: 19 GB/s that way; a byte shuffle per 8 codes, 24).
  // Decoded units are weight / 2^40: the fused kernel's inputs carry the other 2^80, the tiles
  // multiply it in; every product is then exact and in the normal range for |product| >= 2^-86
  // and |input · scale| < 2^48, far beyond the checkpoints' ranges. The vectors hold the even
  // columns 0 .. 14, the odd 1 .. 15, the even 16 .. 30 and the odd 17 .. 31 of the step.
  static constexpr bool kInterleaved = false;
  static constexpr int kStepVectors = 4;
  static constexpr float kOutputScale = 0x1p40f;
  static constexpr float kInputUnit = 0x1p80f;
  // The fp32 subnormals must not be read as zero (SubnormalsKept).
  static constexpr bool kSubnormalWords = true;
  static HWY_INLINE void InputsInStepOrder(DF df, const float* HWY_RESTRICT x, float* HWY_RESTRICT out) {
    VF even0, odd0, even1, odd1;
    hn::LoadInterleaved2(df, x, even0, odd0);
    hn::LoadInterleaved2(df, x + 16, even1, odd1);
    hn::StoreU(even0, df, out);
    hn::StoreU(odd0, df, out + 8);
    hn::StoreU(even1, df, out + 16);
    hn::StoreU(odd1, df, out + 24);
  }
  static HWY_INLINE __m256i Codes(const Row& row, int64_t c) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row.w + c));
  }
  // The step's codes as fp32 bit patterns (weight · 2^-120 / scale), in step order.
  static HWY_INLINE void Words(const Row& row, int64_t c, __m256i* words) {
    const __m256i mask = _mm256_set1_epi32(static_cast<int>(0x87f00000u));
    HWY_UNROLL(2) for (int half = 0; half < 2; ++half) {
      const __m256i pairs = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row.w + c + 16 * half)));
      words[2 * half] = _mm256_and_si256(_mm256_slli_epi32(pairs, 20), mask);
      words[2 * half + 1] = _mm256_and_si256(_mm256_slli_epi32(pairs, 4), mask);
    }
  }
  // Bytes 0xff where a NaN code (magnitude 0x7f) was seen: the running maximum of code | 0x80.
  using NanFlags = __m256i;
  static HWY_INLINE NanFlags NoNan() { return _mm256_setzero_si256(); }
  static HWY_INLINE bool AnyNan(NanFlags flags) {
    return _mm256_movemask_epi8(_mm256_cmpeq_epi8(flags, _mm256_set1_epi8(-1))) != 0;
  }
  static HWY_INLINE NanFlags NoteNans(NanFlags flags, __m256i codes) {
    return _mm256_max_epu8(flags, _mm256_or_si256(codes, _mm256_set1_epi8(static_cast<char>(0x80))));
  }
  static HWY_INLINE void DecodeWide(DF df, const Row& row, int64_t c, VF* v) {
    const __m256i codes = Codes(row, c);
    __m256i words[4];
    Words(row, c, words);
    const VF unit = hn::Set(df, kInputUnit), scale = hn::Set(df, kE8m0Scale[row.scales[c / kBlock]]);
    const bool nans = AnyNan(NoteNans(NoNan(), codes));
    for (int j = 0; j < 4; ++j) {
      v[j] = hn::Mul(hn::Mul(VF{_mm256_castsi256_ps(words[j])}, unit), scale);
      if (HWY_UNLIKELY(nans)) {
        const __m256i magnitude = _mm256_and_si256(words[j], _mm256_set1_epi32(0x07f00000));
        v[j] = hn::IfThenElse(hn::MaskFromVec(VF{_mm256_castsi256_ps(_mm256_cmpeq_epi32(magnitude, _mm256_set1_epi32(0x07f00000)))}),
                              hn::Set(df, std::numeric_limits<float>::quiet_NaN()), v[j]);
      }
    }
  }
  // The fused kernel's decode: the block scale multiplies the inputs instead (once per block of
  // rows; a power of two, so every product is unchanged), and NaN codes are only noted, one test
  // per row group rather than a branch per step: a NaN weight makes its whole dot product NaN.
  static constexpr bool kScaledInputs = true;
  static HWY_INLINE void DecodeUnscaled(DF, const Row& row, int64_t c, VF* v, NanFlags& nan) {
    nan = NoteNans(nan, Codes(row, c));
    __m256i words[4];
    Words(row, c, words);
    for (int j = 0; j < 4; ++j) v[j] = VF{_mm256_castsi256_ps(words[j])};
  }
#else
  // e4m3fn / 256: the 7 magnitude bits moved to the top of a binary16 exponent and mantissa
  // read as the same value with bias 15. binary16 -> binary32 is exact, subnormals included
  // (F16C on AVX2 and up, emulated below), and unaffected by denormals-are-zero.
#if HWY_TARGET == HWY_SCALAR
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
    const VF scale = hn::Set(df, kE8m0Scale[row.scales[c / kBlock]]);
    a = hn::Mul(Load(df, row.w + c), scale);
    b = hn::Mul(Load(df, row.w + c + hn::Lanes(df)), scale);
  }
#else
  // The whole step at once, in 16-bit lanes: a sign-extended code shifted left by 7 has the
  // magnitude in bits 7..13 and the sign in bits 14 and 15; clearing bit 14 leaves the binary16.
  // The NaN codes (magnitude 0x7f) read as +-1.875, which no other code gives.
  using Bits16 = hn::Vec<hn::Repartition<int16_t, DF>>;  // 2 * Lanes(df) lanes: one step
  static HWY_INLINE Bits16 Binary16(const Row& row, int64_t c, VF& lo, VF& hi) {
    const DF df;
    const hn::Repartition<int16_t, DF> di16;
    const hn::Rebind<int8_t, decltype(di16)> di8;
    const hn::Rebind<hwy::float16_t, decltype(di16)> df16;
    const auto shifted = hn::ShiftLeft<7>(hn::PromoteTo(di16, hn::LoadU(di8, reinterpret_cast<const int8_t*>(row.w + c))));
    const auto bits = hn::And(shifted, hn::Set(di16, static_cast<int16_t>(0xbfff)));
    const auto halves = hn::BitCast(df16, bits);
    lo = hn::PromoteTo(df, hn::LowerHalf(halves));
    hi = hn::PromoteTo(df, hn::UpperHalf(hn::Half<decltype(df16)>(), halves));
    return bits;
  }
  // All-ones in the 16-bit lanes that hold a NaN code.
  static HWY_INLINE Bits16 NanLanes(Bits16 bits) {
    const hn::Repartition<int16_t, DF> di16;
    return hn::VecFromMask(di16, hn::Eq(hn::And(bits, hn::Set(di16, 0x7fff)), hn::Set(di16, 0x3f80)));
  }
  static HWY_INLINE void Decode(DF df, const Row& row, int64_t c, VF& a, VF& b) {
    VF lo, hi;
    const Bits16 bits = Binary16(row, c, lo, hi);
    const VF scale = hn::Set(df, kE8m0Scale[row.scales[c / kBlock]]);
    a = hn::Mul(lo, scale);
    b = hn::Mul(hi, scale);
    if (HWY_UNLIKELY(!hn::AllFalse(hn::Repartition<int16_t, DF>(), hn::MaskFromVec(NanLanes(bits))))) {
      const VF nan = hn::Set(df, std::numeric_limits<float>::quiet_NaN()), nan_bits = hn::Set(df, 1.875f);
      a = hn::IfThenElse(hn::Eq(hn::Abs(lo), nan_bits), nan, a);
      b = hn::IfThenElse(hn::Eq(hn::Abs(hi), nan_bits), nan, b);
    }
  }
  // The fused kernel's decode: the block scale multiplies the inputs instead (once per 128-row
  // block; a power of two, so every product is unchanged), and NaN codes are only gathered into
  // `nan`, one test per row group rather than a branch per step: a NaN weight makes its whole
  // dot product NaN.
  static constexpr bool kScaledInputs = true;
  using NanFlags = Bits16;
  static HWY_INLINE NanFlags NoNan() { return hn::Zero(hn::Repartition<int16_t, DF>()); }
  static HWY_INLINE bool AnyNan(NanFlags flags) { return !hn::AllFalse(hn::Repartition<int16_t, DF>(), hn::MaskFromVec(flags)); }
  static HWY_INLINE void DecodeUnscaled(DF, const Row& row, int64_t c, VF* v, NanFlags& nan) {
    nan = hn::Or(nan, NanLanes(Binary16(row, c, v[0], v[1])));
  }
#endif
#endif
  // For the kScaledInputs decoders: the scale the inputs of row r take at column c, and whether
  // a row holds a NaN code (asked only once one was noted).
  static float InputScale(const WeightMatrix& m, int64_t r, int64_t c) {
    return kE8m0Scale[RowAt(m, r).scales[c / kBlock]];
  }
  static bool HasNan(const Row& row, int64_t cols) {
    return std::any_of(row.w, row.w + cols, [](uint8_t code) { return (code & 0x7f) == 0x7f; });
  }
  static float Scalar(const Row& row, int64_t c) {
    return num::E4m3ToFloat(row.w[c]) * num::E8m0ToFloat(row.scales[c / kBlock]);
  }
  static constexpr int64_t kColumnBits = 8;
};

struct Mxfp4Codec {
  static constexpr bool kBf16Inputs = true;
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
#if HWY_TARGET == HWY_AVX2
  // Eight lanes: a step is 32 columns (16 bytes, one scale block) in four vectors. The 16 bytes
  // are loaded into both 128-bit halves, the upper half shifted by 4: the low nibbles (even
  // columns) in the lower half, the high nibbles (odd columns) in the upper. The 32 codes' bf16
  // words come from two byte shuffles of the scale's tables (kMxfp4Bf16ByteTables: the low and
  // the high bytes) and two byte interleaves; a word becomes an fp32 by a shift into the upper
  // half of its 32-bit lane (even words) or by clearing the lower half (odd words). Ten
  // operations for 32 columns besides the loads and FMAs, four of them shuffles: 7.8 GB/s
  // (`deepseek-bench --op mxfp4 --rows 64 --cols 4096 --cached --threads 1`), where word
  // interleaves against zeros in place of the shift and the mask ran at 6.6 and lane permutes
  // of a per-scale fp32 table at 5.3.
  static constexpr int kStepVectors = 4;
  // Vector v's lane i takes the column kStepOrder[8v + i] of the step; InputsInStepOrder puts one
  // step of inputs in that order. In each half, the first byte interleave holds the codes of
  // bytes 0 .. 7, the second those of bytes 8 .. 15; a lane's even word goes to vectors 0 and
  // 2, its odd word to 1 and 3. Lower halves hold low nibbles (even columns), upper halves high.
  static constexpr std::array<int, 32> kStepOrder = [] {
    std::array<int, 32> order{};
    for (int v = 0; v < 4; ++v) {
      for (int half = 0; half < 2; ++half) {
        for (int i = 0; i < 4; ++i) {
          const int byte = (v / 2) * 8 + 2 * i + v % 2;  // the byte whose code lane i holds
          order[static_cast<size_t>(8 * v + 4 * half + i)] = 2 * byte + half;
        }
      }
    }
    return order;
  }();
  static HWY_INLINE void InputsInStepOrder(DF, const float* HWY_RESTRICT x, float* HWY_RESTRICT out) {
    for (size_t k = 0; k < kStepOrder.size(); ++k) out[k] = x[kStepOrder[k]];
  }
  static HWY_INLINE void DecodeWide(DF, const Row& row, int64_t c, VF* v) {
    const __m256i bytes = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row.w + c / 2)));
    const __m256i codes = _mm256_and_si256(_mm256_srlv_epi32(bytes, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), _mm256_set1_epi8(0x0f));
    const uint8_t* table = kMxfp4Bf16ByteTables[row.scales[c / kMxfp4BlockSize]].data();
    const __m256i low = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(table))), codes);
    const __m256i high = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(table + 16))), codes);
    const __m256i words0 = _mm256_unpacklo_epi8(low, high), words1 = _mm256_unpackhi_epi8(low, high);
    const __m256i upper = _mm256_set1_epi32(static_cast<int>(0xffff0000u));
    v[0] = VF{_mm256_castsi256_ps(_mm256_slli_epi32(words0, 16))};
    v[1] = VF{_mm256_castsi256_ps(_mm256_and_si256(words0, upper))};
    v[2] = VF{_mm256_castsi256_ps(_mm256_slli_epi32(words1, 16))};
    v[3] = VF{_mm256_castsi256_ps(_mm256_and_si256(words1, upper))};
  }
#else
  static HWY_INLINE void Decode(DF df, const Row& row, int64_t c, VF& even, VF& odd) {
#if HWY_TARGET == HWY_SCALAR
    // One lane per vector (GCC < 12.3 gets HWY_SCALAR instead of EMU128): no byte shuffles.
    even = hn::Set(df, Scalar(row, c));
    odd = hn::Set(df, Scalar(row, c + 1));
#else
    const hn::Rebind<uint8_t, DF> du8;
    const uint8_t scale_code = row.scales[c / kMxfp4BlockSize];
    if constexpr (HWY_LANES(float) == 16) {
      const auto packed = hn::LoadU(du8, row.w + c / 2);
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
      const auto packed = hn::LoadU(du8, row.w + c / 2);
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
#endif
  static constexpr int64_t kColumnBits = 4;
  static float Scalar(const Row& row, int64_t c) {
    const uint8_t byte = row.w[c / 2];
    return num::E2m1ToFloat(c % 2 ? byte >> 4 : byte & 0xf) *
           num::E8m0ToFloat(row.scales[c / kMxfp4BlockSize]);
  }
#if DEEPSEEK_BF16_DOT
  // Two-kilobyte rows: four in flight (two measured slower, eight no faster).
  static constexpr int64_t kDotRows = 4;
  static constexpr int64_t kOneInputDotRows = 4;
  static constexpr bool kScaleOnInputs = false;
  // 64 columns (32 bytes, two scale blocks) per decode: the low nibbles (even columns) and the
  // high nibbles (odd columns) each become 32 bf16 words through one word permute of a table
  // holding both blocks' 16 e2m1 values times their scales. The words are the even, then the
  // odd columns of the step, and the inputs are put in the same order once per call.
  static constexpr int64_t kDotStep = 64;
  static constexpr bool kDotInterleaved = true;
  static HWY_INLINE void DecodeBf16(const Row& row, int64_t c, __m512i* out) {
    const __m512i bytes = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row.w + c / 2)));
    // Entries 16..31 of the table are the second block's: its 16 words get index bit 4.
    const __m512i second = _mm512_set_epi64(0x0010001000100010, 0x0010001000100010, 0x0010001000100010, 0x0010001000100010, 0, 0, 0, 0);
    const __m512i table = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_load_si256(reinterpret_cast<const __m256i*>(kMxfp4Bf16Tables[row.scales[c / kMxfp4BlockSize]].data()))),
        _mm256_load_si256(reinterpret_cast<const __m256i*>(kMxfp4Bf16Tables[row.scales[c / kMxfp4BlockSize + 1]].data())), 1);
    // (bytes & 0xf) | second, and (bytes >> 4) | second.
    out[0] = _mm512_permutexvar_epi16(_mm512_ternarylogic_epi32(bytes, _mm512_set1_epi16(0xf), second, 0xea), table);
    out[1] = _mm512_permutexvar_epi16(_mm512_or_si512(_mm512_srli_epi16(bytes, 4), second), table);
  }
#endif
};

// Every output is accumulated in one canonical order, whatever n is, so that a prompt gives
// bit-identical results in one call, in chunks or token by token. Two paths implement it:
//
// - fp32 (every target): columns in the codec's step order are summed lane-wise with FMAs
//   within blocks of kColBlock columns, each block is reduced with SumOfLanes and added to a
//   running scalar in block order, and that sum (in decoded units) is scaled by kOutputScale.
// - bf16 dot products (AVX-512 targets on CPUs with AVX512_BF16, see Bf16DotEnabled): formats
//   whose inputs are bf16 multiply bf16 weights by bf16 inputs with vdpbf16ps. Every product of
//   two bf16 values (or of one and a power-of-two scale) is exact in fp32, and one instruction
//   adds the products of 32 columns, pairwise into 16 lanes, where the fp32 path needs two
//   decodes to fp32 and two FMAs. Lane j takes columns 2j and 2j + 1 of every step of a block,
//   in step order; blocks are reduced and summed as in the fp32 path. The instruction reads
//   subnormal inputs as zero, far below the checkpoints' weights and activations.
//
// In both, the columns after the last full step are added one by one with explicit fused
// multiply-adds (left to the compiler, contraction could differ between paths).

HWY_INLINE float InputValue(float v) { return v; }
HWY_INLINE float InputValue(uint16_t v) { return num::Bf16ToFloat(v); }

// v plus the columns [full, cols) of one row times its input x (in either path's words).
template <class Codec, class Word>
HWY_INLINE float AddTailColumns(const typename Codec::Row& row, int64_t full, int64_t cols, const Word* x, float v) {
  for (int64_t c = full; c < cols; ++c) v = std::fma(Codec::Scalar(row, c), InputValue(x[c]), v);
  return v;
}

HWY_INLINE float ReduceLanes(VF v) { return hn::GetLane(hn::SumOfLanes(DF(), v)); }

// Prefetches into L2 (kLocality 2) or L1 (3) the cache lines that start within the bytes of
// columns [c, c + step) of `count` rows (the scale codes are few), so that each line of the
// rows read next is fetched once while the current rows are being read.
template <class Codec, int kLocality = 2>
HWY_INLINE void PrefetchStep(const typename Codec::Row* rows, int64_t count, int64_t c, int64_t step) {
  for (int64_t o = CeilDiv(c * Codec::kColumnBits / 8, kCacheLine) * kCacheLine; o < (c + step) * Codec::kColumnBits / 8; o += kCacheLine) {
    for (int64_t k = 0; k < count; ++k) __builtin_prefetch(reinterpret_cast<const uint8_t*>(rows[k].w) + o, 0, kLocality);
  }
}

// ---- fp32 path ----------------------------------------------------------------------------

// Rewrites x [cols] into the codec's step order (for interleaved codecs: the even columns, then
// the odd columns of each step; for wide steps the codec's order), once per call rather than
// once per weight row. Formats whose inputs are bf16 round them here, as the bf16 path does
// (exact for the model's activations).
template <class Codec>
HWY_INLINE void ToStepOrder(const float* HWY_RESTRICT x, int64_t cols, float* HWY_RESTRICT out) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df)), step = kStepColumns<Codec>;
  const int64_t full = cols - cols % step;
  int64_t c = 0;
  if constexpr (kStepVectors<Codec> != 2) {
    for (; c < full; c += step) Codec::InputsInStepOrder(df, x + c, out + c);
  } else if constexpr (Codec::kInterleaved) {
    VF a, b;
    for (; c < full; c += 2 * lanes) {
      hn::LoadInterleaved2(df, x + c, a, b);
      hn::StoreU(a, df, out + c);
      hn::StoreU(b, df, out + c + lanes);
    }
  }
  std::copy(x + c, x + cols, out + c);
  if constexpr (Codec::kBf16Inputs) {
    for (int64_t i = 0; i < cols; ++i) out[i] = num::RoundBf16(out[i]);
  }
}

// The inputs [n, cols] in step order: x itself for fp32 weights.
template <class Codec>
class StepOrderInputs {
 public:
  StepOrderInputs(const float* x, int64_t n, int64_t cols) : data_(x), cols_(cols) {
    if constexpr (Codec::kInterleaved || Codec::kBf16Inputs) {
      copy_ = hwy::AllocateAligned<float>(static_cast<size_t>(n * cols));
      if (!copy_) throw std::bad_alloc();
      for (int64_t i = 0; i < n; ++i) ToStepOrder<Codec>(x + i * cols, cols, copy_.get() + i * cols);
      data_ = copy_.get();
    }
  }
  const float* row(int64_t i) const { return data_ + i * cols_; }

 private:
  const float* data_;
  int64_t cols_;
  hwy::AlignedFreeUniquePtr<float[]> copy_;
};

// Whether the codec's fused decode leaves the block scale to the inputs (DecodeUnscaled).
template <class Codec>
constexpr bool kScaledInputs = [] {
  if constexpr (requires { Codec::kScaledInputs; }) return Codec::kScaledInputs;
  return false;
}();

// A power of two the scaled inputs carry besides the block scales (the codec's decoded units
// times it are the weight).
template <class Codec>
constexpr float kInputUnit = [] {
  if constexpr (requires { Codec::kInputUnit; }) return Codec::kInputUnit;
  return 1.0f;
}();

// Codecs whose decoded words may be fp32 subnormals need them read as they are, even when the
// host application runs with denormals-are-zero (e.g. code built with -ffast-math): the kernel
// clears the MXCSR flag for its duration and restores the caller's setting after.
template <class Codec>
class SubnormalsKept {
 public:
#if HWY_ARCH_X86
  SubnormalsKept() {
    if constexpr (kNeeded) {
      if (HWY_UNLIKELY(saved_ & kDaz)) _mm_setcsr(saved_ & ~kDaz);
    }
  }
  ~SubnormalsKept() {
    if constexpr (kNeeded) {
      if (HWY_UNLIKELY(saved_ & kDaz)) _mm_setcsr(saved_);
    }
  }

 private:
  static constexpr bool kNeeded = [] {
    if constexpr (requires { Codec::kSubnormalWords; }) return Codec::kSubnormalWords;
    return false;
  }();
  static constexpr unsigned kDaz = 0x40;
  unsigned saved_ = kNeeded ? _mm_getcsr() : 0;
#endif
};

// Columns per pass when a group holds more rows than the registers do: the N ≤ 8 inputs'
// columns of a pass (8 KB at most) stay in L1 while every row of the group uses them.
inline constexpr int64_t kFusedPassColumns = 256;
static_assert(kColBlock % kFusedPassColumns == 0);

// y[i][k] for the G rows r0 .. r0 + count − 1 (count <= G) and N inputs in step order (x; for
// kScaledInputs codecs already multiplied by the rows' block scales, with the unscaled inputs
// in xt for the tail columns), decoding each weight once for all N: every decoded vector meets
// N inputs, so a verify or batched step of a few tokens reads and decodes W once, as a
// one-token step does. R rows at a time have their R·N accumulators in registers, hiding the
// FMA latency (R·N <= 8, plus the decoded step and an input). With G > R the columns go by in
// passes of kFusedPassColumns, every R rows of the group in turn, their partial sums parked in
// memory in between: the inputs are then read from L1 rather than from L2 for each row (they
// outgrow L1 beyond two inputs). Every lane's FMAs keep their order, whatever R and G.
template <class Codec, int N, int R, int G>
HWY_INLINE void DecodeDots(const WeightMatrix& w, int64_t r0, int64_t count, const float* const* HWY_RESTRICT x,
                           const float* const* HWY_RESTRICT xt, float* HWY_RESTRICT y, int64_t y_stride) {
  static_assert(N >= 1 && R >= 1 && N * R <= 8 && G % R == 0);
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df)), step = kStepColumns<Codec>;
  const int64_t full = w.cols - w.cols % step;
  typename Codec::Row rows[G], next[G];
  for (int64_t k = 0; k < G; ++k) rows[k] = Codec::RowAt(w, r0 + std::min<int64_t>(k, count - 1));
  for (int64_t k = 0; k < G; ++k) next[k] = Codec::RowAt(w, std::min<int64_t>(r0 + G + k, w.rows - 1));
  float dot[G][N] = {};
  VF v[kStepVectors<Codec>];
  [[maybe_unused]] auto nan = [] {
    if constexpr (kScaledInputs<Codec>) return Codec::NoNan();
    else return 0;
  }();
  constexpr int64_t pass = G > R ? kFusedPassColumns : kColBlock;
  HWY_ALIGN float parked[G * N * HWY_LANES(float)];
  // A cache line's worth of columns at a time (at least a step), each line of the next rows
  // prefetched once, the line's steps unrolled; a last, partial line step by step.
  constexpr int64_t line = std::max<int64_t>(kStepColumns<Codec>, kCacheLine * 8 / Codec::kColumnBits);
  static_assert(line % kStepColumns<Codec> == 0);
  static_assert(kFusedPassColumns % (kCacheLine * 8 / 4) == 0);  // a whole number of lines and steps
  const auto step_at = [&](int64_t c, int g, VF(&s)[R][N]) HWY_ATTR {
    HWY_UNROLL(8) for (int k = 0; k < R; ++k) {
      if constexpr (kScaledInputs<Codec>) Codec::DecodeUnscaled(df, rows[g + k], c, v, nan);
      else DecodeVectors<Codec>(df, rows[g + k], c, v);
      HWY_UNROLL(8) for (int i = 0; i < N; ++i) {
        HWY_UNROLL(4) for (int j = 0; j < kStepVectors<Codec>; ++j) {
          s[k][i] = hn::MulAdd(hn::LoadU(df, x[i] + c + j * lanes), v[j], s[k][i]);
        }
      }
    }
  };
  for (int64_t c0 = 0; c0 < full; c0 += kColBlock) {
    const int64_t c1 = std::min(full, c0 + kColBlock);
    for (int64_t p0 = c0; p0 < c1; p0 += pass) {
      const int64_t p1 = std::min(c1, p0 + pass);
      for (int g = 0; g < G; g += R) {
        VF s[R][N];
        HWY_UNROLL(8) for (int k = 0; k < R; ++k) {
          HWY_UNROLL(8) for (int i = 0; i < N; ++i) {
            s[k][i] = hn::Zero(df);
            if constexpr (G > R) {
              if (p0 > c0) s[k][i] = hn::Load(df, parked + ((g + k) * N + i) * lanes);
            }
          }
        }
        int64_t c = p0;
        for (; c + line <= p1; c += line) {
          PrefetchStep<Codec>(next + g, R, c, line);
          HWY_UNROLL(4) for (int64_t u = 0; u < line; u += step) step_at(c + u, g, s);
        }
        for (; c < p1; c += step) step_at(c, g, s);
        for (int k = 0; k < R; ++k) {
          for (int i = 0; i < N; ++i) {
            if (G > R && p1 < c1) {
              hn::Store(s[k][i], df, parked + ((g + k) * N + i) * lanes);
            } else {
              const float part = ReduceLanes(s[k][i]);
              dot[g + k][i] = c0 == 0 ? part : dot[g + k][i] + part;
            }
          }
        }
      }
    }
  }
  if constexpr (kScaledInputs<Codec>) {
    if (HWY_UNLIKELY(Codec::AnyNan(nan))) {
      for (int k = 0; k < G; ++k) {
        if (Codec::HasNan(rows[k], full)) std::fill_n(dot[k], N, std::numeric_limits<float>::quiet_NaN());
      }
    }
  }
  for (int64_t k = 0; k < count; ++k) {
    for (int i = 0; i < N; ++i) {
      y[i * y_stride + k] = AddTailColumns<Codec>(rows[k], full, w.cols, xt[i], dot[k][i] * Codec::kOutputScale);
    }
  }
}

// f(std::integral_constant<int, n>{}) for 1 <= n <= 8: the few-input kernels are compiled once
// per input count, their register blocking fixed for it.
template <class F>
HWY_INLINE void WithInputCount(int64_t n, F&& f) {
  switch (n) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    case 4: f(std::integral_constant<int, 4>{}); break;
    case 5: f(std::integral_constant<int, 5>{}); break;
    case 6: f(std::integral_constant<int, 6>{}); break;
    case 7: f(std::integral_constant<int, 7>{}); break;
    default: f(std::integral_constant<int, 8>{});
  }
}

// Rows per register block of DecodeDots for N inputs: 4, halved while the R·N accumulators
// exceed 8.
constexpr int FusedRowsFor(int n) {
  int r = 4;
  while (r > 1 && n * r > 8) r /= 2;
  return r;
}

// y[i, r] for rows [r0, r1) (r0 a multiple of 4) and inputs [0, n), n <= kFusedInputs, each
// weight decoded once: the fewer the inputs, the more rows share a pass (FusedRowsFor).
template <class Codec>
HWY_INLINE void FusedDots(const WeightMatrix& w, int64_t r0, int64_t r1, const StepOrderInputs<Codec>& xs, int64_t n,
                          float* HWY_RESTRICT y) {
  const float* xt[8];
  for (int64_t i = 0; i < n; ++i) xt[i] = xs.row(i);
  const float* x[8];
  std::copy_n(xt, n, x);
  // kScaledInputs: the inputs times the scales of the current block of rows.
  hwy::AlignedFreeUniquePtr<float[]> scaled;
  int64_t scaled_block = -1;
  if constexpr (kScaledInputs<Codec>) {
    scaled = hwy::AllocateAligned<float>(static_cast<size_t>(n * w.cols));
    if (!scaled) throw std::bad_alloc();
    for (int64_t i = 0; i < n; ++i) x[i] = scaled.get() + i * w.cols;
  }
  for (int64_t r = r0; r < r1; r += 4) {  // a group of 4 never straddles a block of scales
    if constexpr (kScaledInputs<Codec>) {
      if (r / Codec::kScaleBlock != scaled_block) {
        scaled_block = r / Codec::kScaleBlock;
        for (int64_t i = 0; i < n; ++i) {
          float* out = scaled.get() + i * w.cols;
          for (int64_t c0 = 0; c0 < w.cols; c0 += Codec::kScaleBlock) {
            const float scale = Codec::InputScale(w, r, c0);
            for (int64_t c = c0; c < std::min(w.cols, c0 + Codec::kScaleBlock); ++c) out[c] = xt[i][c] * scale * kInputUnit<Codec>;
          }
        }
      }
    }
    const int64_t count = std::min<int64_t>(4, r1 - r);
    WithInputCount(n, [&](auto N) HWY_ATTR { DecodeDots<Codec, N, FusedRowsFor(N), 4>(w, r, count, x, xt, y + r, w.rows); });
  }
}

#if DEEPSEEK_BF16_DOT  // AVX-512 targets
// out[a] = the sum of s[a]'s 16 lanes for K = 4, 8 or 16 accumulators at once, added in
// ReduceLanes' tree (lane i + lane i+8, then i + i+4, i + i+2, i + i+1: the tree of the
// compilers' _mm512_reduce_add_ps), so that every kernel's sums are bit-identical. Each level
// adds two vectors that hold the halves of twice as many accumulators as the level before: for
// 16 accumulators 15 additions and 30 shuffles instead of 16 reductions of 8 operations each
// (levels with fewer vectors than two pair one with itself). "Block" is a 128-bit quarter.
template <int K>
HWY_INLINE void ReduceLanesOf(const __m512 (&s)[K], float (&out)[K]) {
  static_assert(K == 4 || K == 8 || K == 16);
  // i + i+8: v1[j] holds accumulator 2j's 8 partial sums in blocks 0-1, 2j+1's in blocks 2-3.
  __m512 v1[K / 2];
  for (int j = 0; j < K / 2; ++j) {
    const __m512 a = s[2 * j], b = s[2 * j + 1];
    v1[j] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
  }
  // i + i+4: block q of v2[j] holds accumulator 4j + q's 4 partial sums.
  __m512 v2[K / 4];
  for (int j = 0; j < K / 4; ++j) {
    const __m512 a = v1[2 * j], b = v1[2 * j + 1];
    v2[j] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
  }
  // i + i+2: block q of v3[j] holds accumulator 8j + q's 2 partial sums, then 8j + 4 + q's.
  const auto pairs = [](__m512 a, __m512 b) HWY_ATTR {
    return _mm512_add_ps(_mm512_shuffle_ps(a, b, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_ps(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
  };
  const __m512 v3a = pairs(v2[0], v2[K >= 8 ? 1 : 0]);
  __m512 v3b = v3a;
  if constexpr (K == 16) v3b = pairs(v2[2], v2[3]);
  // i + i+1: lane r of block q holds accumulator 4r + q.
  const __m512 sums = _mm512_add_ps(_mm512_shuffle_ps(v3a, v3b, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_ps(v3a, v3b, _MM_SHUFFLE(3, 1, 3, 1)));
  HWY_ALIGN float lanes[16];
  _mm512_store_ps(lanes, sums);
  for (int a = 0; a < K; ++a) out[a] = lanes[4 * (a % 4) + a / 4];
}

// acc[m][k] = the sum of s[m][k]'s lanes for the 16 accumulators of a 4 × 4 block (the fp32
// path's blocks on AVX-512 targets).
HWY_INLINE void Reduce4x4(const __m512 (&s)[4][4], float acc[4][4]) {
  const __m512 flat[16] = {s[0][0], s[0][1], s[0][2], s[0][3], s[1][0], s[1][1], s[1][2], s[1][3],
                           s[2][0], s[2][1], s[2][2], s[2][3], s[3][0], s[3][1], s[3][2], s[3][3]};
  float sums[16];
  ReduceLanesOf(flat, sums);
  for (int m = 0; m < 4; ++m) {
    for (int k = 0; k < 4; ++k) acc[m][k] = sums[4 * m + k];
  }
}
#endif

// acc[m][k] = Σ_{c ∈ [0, len)} x[m][c] · w[k][c], lane-wise in column order then reduced, for
// 4 input rows and K weight rows: 4·K accumulators, K + 4 loads per 4·K FMAs. K = 4 where the
// target has 32 vector registers; 3 where it has 16, so that the 12 accumulators, 3 weight
// vectors and an input vector stay in registers (with 16 accumulators the compiler spilled two
// and took the weights from memory for every FMA: 0.2 of the FMA peak on AVX2). The shape does
// not change any output's summation order.
inline constexpr int kF32BlockRows = HWY_TARGET <= HWY_AVX3 ? 4 : 3;

HWY_INLINE void BlockF32(const float* const x[4], const float* const w[kF32BlockRows], int64_t len, float acc[4][kF32BlockRows]) {
  constexpr int K = kF32BlockRows;
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  VF s[4][K];
  HWY_UNROLL(4) for (int m = 0; m < 4; ++m) {
    HWY_UNROLL(4) for (int k = 0; k < K; ++k) s[m][k] = hn::Zero(df);
  }
  for (int64_t c = 0; c < len; c += lanes) {
    VF wv[K];
    HWY_UNROLL(4) for (int k = 0; k < K; ++k) wv[k] = hn::LoadU(df, w[k] + c);
    HWY_UNROLL(4) for (int m = 0; m < 4; ++m) {
      const VF xv = hn::LoadU(df, x[m] + c);
      HWY_UNROLL(4) for (int k = 0; k < K; ++k) s[m][k] = hn::MulAdd(xv, wv[k], s[m][k]);
    }
  }
#if DEEPSEEK_BF16_DOT
  static_assert(K == 4);
  __m512 raw[4][4];
  for (int m = 0; m < 4; ++m) {
    for (int k = 0; k < 4; ++k) raw[m][k] = s[m][k].raw;
  }
  Reduce4x4(raw, acc);
#else
  for (int m = 0; m < 4; ++m) {
    for (int k = 0; k < K; ++k) acc[m][k] = ReduceLanes(s[m][k]);
  }
#endif
}

template <class C>
struct F32Path {
  using Codec = C;
  using Word = float;  // of inputs and decoded tiles
  using Inputs = StepOrderInputs<C>;
  static constexpr int64_t kStep = kStepColumns<C>;
  static constexpr int64_t kRowsPerGroup = 4;
  static constexpr float kOutputScale = C::kOutputScale;

  static HWY_INLINE void DecodeStep(const typename C::Row& row, int64_t c, float* HWY_RESTRICT out) {
    const DF df;
    VF v[kStepVectors<C>];
    DecodeVectors<C>(df, row, c, v);
    for (int j = 0; j < kStepVectors<C>; ++j) hn::StoreU(v[j], df, out + c + j * static_cast<int64_t>(hn::Lanes(df)));
  }
  static constexpr int64_t kBlockInputs = 4, kBlockRows = kF32BlockRows;
  static HWY_INLINE void Block(const float* const x[4], const float* const w[kBlockRows], int64_t len, float acc[4][kBlockRows]) {
    BlockF32(x, w, len, acc);
  }
  static HWY_INLINE void Dots(const WeightMatrix& w, int64_t r0, int64_t r1, const Inputs& xs, int64_t n, float* y) {
    FusedDots<C>(w, r0, r1, xs, n, y);
  }
};

// ---- bf16 dot-product path ----------------------------------------------------------------
#if DEEPSEEK_BF16_DOT

// Rows per group for N inputs: the codec's choice for one input; for more, as many as the
// plan's unit (kDotRows) allows while the R·N accumulators and the step's vectors held in
// registers (its N input vectors, or with RowsHeld its R rows' decoded words) take at most 24
// of the 32 registers, leaving the decoder its own.
template <class Codec>
constexpr int DotRowsFor(int n) {
  int r = static_cast<int>(Codec::kDotRows);
  if (n == 1) r = static_cast<int>(Codec::kOneInputDotRows);
  while (r > 1 && (n * r + std::min(n, r) * static_cast<int>(Codec::kDotStep / 32)) > 24) r /= 2;
  return r;
}

// Whether the few-input kernel holds a step's R decoded rows in registers and streams the N
// inputs past them, reading the inputs from InputUnits (more inputs than rows), rather than
// holding the inputs and streaming the rows: either way each input vector is loaded and each
// row decoded once per step, and the fewer of the two take registers.
constexpr bool RowsHeld(int n, int r) { return n > r; }

// Copies the 32-word units of columns [c0, c1) (multiples of 32) of one input to out, unit u at
// out[u · unit_stride]: with unit_stride 32·n and out offset by 32·i for input i, the inputs'
// units interleave, so that a kernel reads all of a step's inputs from one pointer (kept in a
// register of its own where n pointers would take n, which GCC then parks in vector registers).
inline void InputUnits(const uint16_t* HWY_RESTRICT x, int64_t c0, int64_t c1, uint16_t* HWY_RESTRICT out, int64_t unit_stride) {
  for (int64_t c = c0; c < c1; c += 32) std::copy_n(x + c, 32, out + c / 32 * unit_stride);
}

// x [n, cols] as bf16 words, in the codec's word order (kDotInterleaved: the even, then the
// odd columns of each full step); for the few-input kernels that hold rows rather than inputs
// (RowsHeld), also the full steps' words in 32-word units interleaved over the inputs (InputUnits).
template <class Codec>
class Bf16Inputs {
 public:
  Bf16Inputs(const float* x, int64_t n, int64_t cols) : cols_(cols), words_(hwy::AllocateAligned<uint16_t>(static_cast<size_t>(n * cols))) {
    if (!words_) throw std::bad_alloc();
    constexpr int64_t step = Codec::kDotStep;
    const int64_t full = Codec::kDotInterleaved ? cols - cols % step : 0;
    for (int64_t i = 0; i < n; ++i) {
      const float* xi = x + i * cols;
      uint16_t* out = words_.get() + i * cols;
      for (int64_t base = 0; base < full; base += step) {  // column k of a step goes to word k/2 or step/2 + k/2
        for (int64_t k = 0; k < step / 2; ++k) {
          out[base + k] = num::FloatToBf16(xi[base + 2 * k]);
          out[base + step / 2 + k] = num::FloatToBf16(xi[base + 2 * k + 1]);
        }
      }
      for (int64_t c = full; c < cols; ++c) out[c] = num::FloatToBf16(xi[c]);
    }
    if (!Codec::kScaleOnInputs && n <= kFusedInputs && RowsHeld(static_cast<int>(n), DotRowsFor<Codec>(static_cast<int>(n)))) {
      units_ = hwy::AllocateAligned<uint16_t>(static_cast<size_t>(n * cols));
      if (!units_) throw std::bad_alloc();
      for (int64_t i = 0; i < n; ++i) InputUnits(row(i), 0, cols - cols % 32, units_.get() + 32 * i, 32 * n);
    }
  }
  const uint16_t* row(int64_t i) const { return words_.get() + i * cols_; }
  // The InputUnits of all n inputs, where a kernel reads them (RowsHeld, and the inputs unscaled).
  const uint16_t* units() const { return units_.get(); }

 private:
  int64_t cols_;
  hwy::AlignedFreeUniquePtr<uint16_t[]> words_, units_;
};

inline __m512bh AsBf16(__m512i v) { return reinterpret_cast<__m512bh&>(v); }

// out[c] = x[c] · the scale of FP8 row block `block` at column c, for c in [c0, c1) (multiples
// of 16), in InputUnits' layout (column c at out[(c / 32) · unit_stride + c % 32]): bf16 times a
// power of two is exact, so each product x·(s·w) is unchanged.
template <int64_t kBlock>
DEEPSEEK_KERNEL_ATTR inline void ScaleFp8Inputs(const WeightMatrix& w, int64_t block, const uint16_t* HWY_RESTRICT x, int64_t c0,
                                                int64_t c1, uint16_t* HWY_RESTRICT out, int64_t unit_stride) {
  const uint8_t* codes = w.scales + block * CeilDiv(w.cols, kBlock);
  for (int64_t c = c0; c < c1; c += 16) {
    const __m512 v = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + c))), 16));
    const __m512 scaled = _mm512_mul_ps(v, _mm512_set1_ps(kE8m0Scale[codes[c / kBlock]]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + c / 32 * unit_stride + c % 32), _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(scaled), 16)));
  }
}

// Whether BlockDotsBf16 decodes two steps at a time (DecodeBf16UnscaledWide, in the same column
// order as two steps, so every lane's sum is unchanged): for every input count. Up to 4 inputs
// the step's 2·N input vectors leave the registers the R·N accumulators; with more, the rows'
// decoded words are held instead (RowsHeld), 2·R of them. (While the inputs were held for any
// count, the wide decode with 8 inputs had to drop to one row and was slower, 233-244 ->
// 185-214 GFLOP/s; with the rows held it is faster, from L2 on one thread n = 5 / 8 104-110 /
// 101-119 -> 129-133 / 146 GFLOP/s.)
template <class Codec>
constexpr bool kWideUnscaled = [] {
  if constexpr (requires { &Codec::DecodeBf16UnscaledWide; }) return Codec::kScaleOnInputs && !Codec::kDotInterleaved;
  return false;
}();

// Where the few-input kernel reads input i's 32 words at column c (a multiple of 32): from
// InputUnits (kUnits: one pointer for all N inputs) or from N rows of their own.
template <int N, bool kUnits>
struct DotInputs {
  const uint16_t* units;
  HWY_INLINE const uint16_t* At(int i, int64_t c) const { return units + (c / 32 * N + i) * 32; }
};
template <int N>
struct DotInputs<N, false> {
  const uint16_t* rows[N];
  HWY_INLINE const uint16_t* At(int i, int64_t c) const { return rows[i] + c; }
};

// s[k][i] += the dot products of row k and input i over the steps from column c while they end
// by c1, one dot-product chain per row and input, lane-wise in column order: one codec step per
// decode, or two (kWide, DecodeBf16UnscaledWide). The rows after them (next) are prefetched.
// Returns the column reached.
template <class Codec, int N, int R, bool kWide>
HWY_INLINE DEEPSEEK_BF16_PATH_ATTR int64_t StepDotsBf16(const typename Codec::Row (&rows)[R], const typename Codec::Row (&next)[R],
                                                        const DotInputs<N, RowsHeld(N, R)>& x, int64_t c, int64_t c1, __m512 (&s)[R][N]) {
  constexpr int64_t vectors = (kWide ? 2 : 1) * Codec::kDotStep / 32, width = 32 * vectors;
  const auto decode = [&](int k, __m512i (&words)[vectors]) DEEPSEEK_BF16_PATH_ATTR {
    if constexpr (kWide) Codec::DecodeBf16UnscaledWide(rows[k], c, words);
    else if constexpr (Codec::kScaleOnInputs) Codec::DecodeBf16Unscaled(rows[k], c, words);
    else Codec::DecodeBf16(rows[k], c, words);
  };
  for (; c + width <= c1; c += width) {
    // Each step asks for as many bytes of the next rows (next) as it reads of its own, without
    // PrefetchStep's loop over the lines that start within the step, its branch and its
    // registers (which the per-row form below replaced: from DRAM on two threads, MXFP4 with 2
    // inputs 13.5-19.3 -> 20.8-21.5 GB/s, the others unchanged or a little faster).
    static_assert(width * Codec::kColumnBits / 8 <= kCacheLine);
    if constexpr (!RowsHeld(N, R)) {
      // Up to R inputs: the next R rows are one contiguous run of R·(row bytes), asked for in
      // order at R times the rate the rows are read, each line once (MXFP4's 32-byte steps
      // take half the prefetches) and from one or two pages at a time, not R. On Zen 5
      // (interleaved pairs, `--op F --rows 32768 --cols 4096 --n N --threads 2`, and `--rows
      // 256 --cached --threads 1`): n = 1 MXFP4 from L2 30.5 -> 34.0 GB/s, from DRAM +4-9 %,
      // FP8 from DRAM 31-34 -> 37-41 GB/s; n = 2 from DRAM bf16 +2-23 %, FP8 +14-47 % (five of
      // five pairs), MXFP4 +27 % (four of five); n = 3-4 level to +20 %. (When the inputs go
      // by panels, the rows' lines are all still asked for, less in the order of use. The last
      // group's run reaches past the matrix: a prefetch never faults.)
      const uint8_t* run = reinterpret_cast<const uint8_t*>(next[0].w) + c * Codec::kColumnBits / 8 * R;
      HWY_UNROLL(8) for (int64_t l = 0; l < width * Codec::kColumnBits / 8 * R; l += kCacheLine) __builtin_prefetch(run + l, 0, 2);
    } else {
      // More inputs than rows: one prefetch per row at the step's first byte (a step is at most
      // a line, so every line is asked for, those of 32-byte steps twice).
      HWY_UNROLL(8) for (int k = 0; k < R; ++k) __builtin_prefetch(reinterpret_cast<const uint8_t*>(next[k].w) + c * Codec::kColumnBits / 8, 0, 2);
    }
    if constexpr (RowsHeld(N, R)) {
      __m512i words[R][vectors];
      HWY_UNROLL(8) for (int k = 0; k < R; ++k) decode(k, words[k]);
      HWY_UNROLL(8) for (int i = 0; i < N; ++i) {
        HWY_UNROLL(2) for (int64_t v = 0; v < vectors; ++v) {
          const __m512bh xv = AsBf16(_mm512_loadu_si512(x.At(i, c + 32 * v)));
          HWY_UNROLL(8) for (int k = 0; k < R; ++k) s[k][i] = _mm512_dpbf16_ps(s[k][i], xv, AsBf16(words[k][v]));
        }
      }
    } else {
      __m512bh xv[N][vectors];
      HWY_UNROLL(8) for (int i = 0; i < N; ++i) {
        HWY_UNROLL(2) for (int64_t v = 0; v < vectors; ++v) xv[i][v] = AsBf16(_mm512_loadu_si512(x.At(i, c + 32 * v)));
      }
      HWY_UNROLL(8) for (int k = 0; k < R; ++k) {
        __m512i words[vectors];
        decode(k, words);
        HWY_UNROLL(8) for (int i = 0; i < N; ++i) {
          HWY_UNROLL(2) for (int64_t v = 0; v < vectors; ++v) s[k][i] = _mm512_dpbf16_ps(s[k][i], xv[i][v], AsBf16(words[v]));
        }
      }
    }
  }
  return c;
}

// part[k][i] = the dot product of row k and input i over the column block [c0, c1) (a whole
// number of steps), reduced from its lanes.
template <class Codec, int N, int R>
HWY_INLINE DEEPSEEK_BF16_PATH_ATTR void BlockDotsBf16(const typename Codec::Row (&rows)[R], const typename Codec::Row (&next)[R],
                                                      const DotInputs<N, RowsHeld(N, R)>& x, int64_t c0, int64_t c1, float (&part)[R][N]) {
  __m512 s[R][N];
  HWY_UNROLL(8) for (int k = 0; k < R; ++k) {
    HWY_UNROLL(8) for (int i = 0; i < N; ++i) s[k][i] = _mm512_setzero_ps();
  }
  int64_t c = c0;
  if constexpr (kWideUnscaled<Codec>) c = StepDotsBf16<Codec, N, R, true>(rows, next, x, c, c1, s);
  StepDotsBf16<Codec, N, R, false>(rows, next, x, c, c1, s);
  // The R·N sums 16 at a time, the last group padded with zeros to a power of two.
  constexpr int kCount = R * N;
  HWY_UNROLL(2) for (int a0 = 0; a0 < kCount; a0 += 16) {
    constexpr int K = kCount <= 4 ? 4 : kCount <= 8 ? 8 : 16;
    __m512 flat[K];
    HWY_UNROLL(16) for (int a = 0; a < K; ++a) flat[a] = a0 + a < kCount ? s[(a0 + a) / N][(a0 + a) % N] : _mm512_setzero_ps();
    float sums[K];
    ReduceLanesOf(flat, sums);
    HWY_UNROLL(16) for (int a = 0; a < K && a0 + a < kCount; ++a) part[(a0 + a) / N][(a0 + a) % N] = sums[a];
  }
}

// Rows per panel of DotsBf16 when its inputs outgrow L1.
inline constexpr int64_t kDotPanelRows = 16;

// y[i, r] for rows [r0, r1) and N inputs, R rows at a time (R divides kDotRows, so a group
// never straddles an FP8 row block), each weight decoded once for all N: a verify or batched
// step of a few tokens reads and decodes W once, as a one-token step does. Every row and input
// sums its column blocks' parts in block order, whatever N, R and the loop order, so each input
// gets the outputs it would get alone. While the inputs fit in L1 the rows stream whole, R at a
// time. When they would not (8 inputs of 4096 columns are 64 KiB of bf16), the rows go by in
// panels of kDotPanelRows, column blocks outer within a panel: every group of the panel reads
// the block's slice of the inputs from L1, and the panel's rows (contiguous in memory) come
// from L2, where the panel before prefetched them. Measured on Zen 4 with 8 inputs from DRAM
// (`deepseek-bench --op F --rows 32768 --cols 4096 --n 8 --threads 2`), against whole rows
// with the inputs from L2: bf16 175 -> 250, MXFP4 155 -> 255, FP8 unchanged at 240 GFLOP/s;
// with column blocks outer over the whole range instead (each row read in slices far apart),
// bf16 134, MXFP4 129, FP8 165.
template <class Codec, int N, int R>
DEEPSEEK_BF16_PATH_ATTR void DotsBf16(const WeightMatrix& w, int64_t r0, int64_t r1, const Bf16Inputs<Codec>& xs, float* HWY_RESTRICT y) {
  static_assert(Codec::kDotRows % R == 0 && kDotPanelRows % R == 0);
  constexpr int64_t kL1Bytes = 32 * 1024;
  const int64_t full = w.cols - w.cols % Codec::kDotStep;
  const int64_t panel = N * full * static_cast<int64_t>(sizeof(uint16_t)) <= kL1Bytes ? R : kDotPanelRows;
  // What the dot products read: the inputs, or (kScaleOnInputs) them times a row block's scales.
  constexpr bool kUnits = RowsHeld(N, R);
  DotInputs<N, kUnits> x;
  hwy::AlignedFreeUniquePtr<uint16_t[]> scaled;
  if constexpr (Codec::kScaleOnInputs) {
    scaled = hwy::AllocateAligned<uint16_t>(static_cast<size_t>(N * std::max<int64_t>(full, 1)));
    if (!scaled) throw std::bad_alloc();
    if constexpr (kUnits) x.units = scaled.get();
    else for (int i = 0; i < N; ++i) x.rows[i] = scaled.get() + i * full;
  } else {
    if constexpr (kUnits) x.units = xs.units();
    else for (int i = 0; i < N; ++i) x.rows[i] = xs.row(i);
  }
  typename Codec::Row rows[R], next[R];
  int64_t scaled_block = -1;
  for (int64_t p0 = r0; p0 < r1;) {
    int64_t p1 = std::min(r1, p0 + panel);
    if constexpr (Codec::kScaleOnInputs) {  // a panel takes the rows of one block of scales
      const int64_t block = p0 / Codec::kScaleBlock;
      p1 = std::min(p1, (block + 1) * Codec::kScaleBlock);
      if (block != scaled_block) {
        scaled_block = block;
        for (int i = 0; i < N; ++i) {
          ScaleFp8Inputs<Codec::kScaleBlock>(w, block, xs.row(i), 0, full, scaled.get() + (kUnits ? 32 * i : i * full), kUnits ? 32 * N : 32);
        }
      }
    }
    float dot[kDotPanelRows][N], part[R][N];
    for (int64_t c0 = 0; c0 < full; c0 += kColBlock) {
      for (int64_t r = p0; r < p1; r += R) {
        const int64_t count = std::min<int64_t>(R, p1 - r);
        for (int64_t k = 0; k < R; ++k) rows[k] = Codec::RowAt(w, r + std::min<int64_t>(k, count - 1));
        for (int64_t k = 0; k < R; ++k) next[k] = Codec::RowAt(w, std::min<int64_t>(r + panel + k, w.rows - 1));
        BlockDotsBf16<Codec, N, R>(rows, next, x, c0, std::min(full, c0 + kColBlock), part);
        for (int64_t k = 0; k < count; ++k) {
          for (int i = 0; i < N; ++i) dot[r - p0 + k][i] = c0 == 0 ? part[k][i] : dot[r - p0 + k][i] + part[k][i];
        }
      }
    }
    // Then the tail columns.
    for (int64_t r = p0; r < p1; ++r) {
      const typename Codec::Row row = Codec::RowAt(w, r);
      for (int i = 0; i < N; ++i) y[i * w.rows + r] = AddTailColumns<Codec>(row, full, w.cols, xs.row(i), full > 0 ? dot[r - p0][i] : 0.0f);
    }
    p0 = p1;
  }
}

// DotsBf16 for n <= 8 inputs.
template <class Codec>
DEEPSEEK_BF16_PATH_ATTR void DotsBf16(const WeightMatrix& w, int64_t r0, int64_t r1, const Bf16Inputs<Codec>& xs, int64_t n,
                                      float* HWY_RESTRICT y) {
  WithInputCount(n, [&](auto N) DEEPSEEK_BF16_PATH_ATTR { DotsBf16<Codec, N, DotRowsFor<Codec>(N)>(w, r0, r1, xs, y); });
}

// BlockF32's shape for bf16 words with 6 input rows and 4 weight rows: one dot product per
// input row and weight row per 32 columns, 24 accumulators, 10 loads per 24 dot products. On
// Zen 5, which issues two vdpbf16ps per cycle, the 4 × 4 block's 8 loads per 16 reached
// further into L2 for every product (the tile and the inputs outgrow L1): against it, from
// L2 on one thread (`deepseek-bench --op F --rows 256 --cols 4096 --n N --cached --threads
// 1`, three interleaved pairs), MXFP4 n = 48 / 512 +9 % / +16 %, FP8 n = 512 +5 %, FP8 n = 48
// level. A call of its own, the accumulators indexed only with constants after unrolling, so
// that GCC 12 keeps them in registers (inlined into the tile loops, which hold their own values
// in vector registers, it kept 4 × 4 blocks' accumulators in memory). Each accumulator takes
// the same products in the same order whatever the shape.
inline constexpr int kBf16BlockInputs = 6;

inline HWY_NOINLINE DEEPSEEK_KERNEL_ATTR void Block6x4(const uint16_t* const x[kBf16BlockInputs], const uint16_t* const w[4], int64_t len,
                                                       float acc[kBf16BlockInputs][4]) {
  constexpr int M = kBf16BlockInputs;
  const uint16_t* xr[M];
  const uint16_t* wr[4];
  HWY_UNROLL(6) for (int m = 0; m < M; ++m) xr[m] = x[m];
  HWY_UNROLL(4) for (int k = 0; k < 4; ++k) wr[k] = w[k];
  __m512 s[M][4];
  HWY_UNROLL(6) for (int m = 0; m < M; ++m) {
    HWY_UNROLL(4) for (int k = 0; k < 4; ++k) s[m][k] = _mm512_setzero_ps();
  }
  for (int64_t c = 0; c < len; c += 32) {
    __m512bh wv[4];
    HWY_UNROLL(4) for (int k = 0; k < 4; ++k) wv[k] = AsBf16(_mm512_loadu_si512(wr[k] + c));
    HWY_UNROLL(6) for (int m = 0; m < M; ++m) {
      const __m512bh xv = AsBf16(_mm512_loadu_si512(xr[m] + c));
      HWY_UNROLL(4) for (int k = 0; k < 4; ++k) s[m][k] = _mm512_dpbf16_ps(s[m][k], xv, wv[k]);
    }
  }
  // Inputs 0-3's sums in one reduction of 16 accumulators, inputs 4-5's in one of 8.
  __m512 first[16], rest[8];
  HWY_UNROLL(16) for (int a = 0; a < 16; ++a) first[a] = s[a / 4][a % 4];
  HWY_UNROLL(8) for (int a = 0; a < 8; ++a) rest[a] = s[4 + a / 4][a % 4];
  float first_sums[16], rest_sums[8];
  ReduceLanesOf(first, first_sums);
  ReduceLanesOf(rest, rest_sums);
  for (int a = 0; a < 16; ++a) acc[a / 4][a % 4] = first_sums[a];
  for (int a = 0; a < 8; ++a) acc[4 + a / 4][a % 4] = rest_sums[a];
}

template <class C>
struct Bf16DotPath {
  using Codec = C;
  using Word = uint16_t;
  using Inputs = Bf16Inputs<C>;
  static constexpr int64_t kStep = C::kDotStep;
  static constexpr int64_t kRowsPerGroup = C::kDotRows;
  static constexpr float kOutputScale = 1.0f;

  static HWY_INLINE DEEPSEEK_KERNEL_ATTR void DecodeStep(const typename C::Row& row, int64_t c, uint16_t* HWY_RESTRICT out) {
    __m512i words[C::kDotStep / 32];
    C::DecodeBf16(row, c, words);
    for (int64_t v = 0; v < C::kDotStep / 32; ++v) _mm512_storeu_si512(out + c + 32 * v, words[v]);
  }
  static constexpr int64_t kBlockInputs = kBf16BlockInputs, kBlockRows = 4;
  static HWY_INLINE DEEPSEEK_KERNEL_ATTR void Block(const uint16_t* const x[kBlockInputs], const uint16_t* const w[4], int64_t len,
                                                    float acc[kBlockInputs][4]) {
    Block6x4(x, w, len, acc);
  }
  static HWY_INLINE DEEPSEEK_KERNEL_ATTR void Dots(const WeightMatrix& w, int64_t r0, int64_t r1, const Inputs& xs, int64_t n, float* y) {
    DotsBf16<C>(w, r0, r1, xs, n, y);
  }
};
#endif  // DEEPSEEK_BF16_DOT

// ---- more inputs: decoded tiles, shared by both paths -------------------------------------

// Writes rows [r0, r0 + count) × columns [c0, c1) of W (c0, c1 multiples of the step, c1 <=
// the last full step) to tile (row stride kColBlock) as the decoder yields them: in step order
// and in decoded units (weight / kOutputScale).
template <class Path>
HWY_INLINE DEEPSEEK_KERNEL_ATTR void DecodeTile(const WeightMatrix& w, int64_t r0, int64_t count, int64_t c0, int64_t c1,
                                                typename Path::Word* HWY_RESTRICT tile) {
  for (int64_t r = 0; r < count; ++r) {
    const typename Path::Codec::Row row = Path::Codec::RowAt(w, r0 + r);
    typename Path::Word* HWY_RESTRICT out = tile + r * kColBlock - c0;
    // The row after next into L1, though the tile loop asked for the block in L2 ahead of
    // time: the decoder still waited on its loads (from DRAM on two threads, `deepseek-bench
    // --op F --rows 8192 --cols 4096 --n 48 --threads 2`, five of six interleaved pairs
    // faster, FP8 by 9-35 %, MXFP4 by 27-46 %).
    if (r + 2 < count) {
      const typename Path::Codec::Row ahead = Path::Codec::RowAt(w, r0 + r + 2);
      PrefetchStep<typename Path::Codec, 3>(&ahead, 1, c0, c1 - c0);
    }
    for (int64_t c = c0; c < c1; c += Path::kStep) Path::DecodeStep(row, c, out);
  }
}

// For all n inputs and the tile's `count` rows over the column block [c0, c0 + len): y[i, r0 +
// j] becomes the block's partial dot product (first block) or has it added (later blocks), the
// running sum of the canonical order. Partial register blocks repeat their last input or
// weight row and drop the duplicate results, so no padding is needed.
template <class Path>
HWY_INLINE DEEPSEEK_KERNEL_ATTR void MultiplyTileBlock(const typename Path::Inputs& xs, int64_t n, int64_t c0, int64_t len,
                                                       const typename Path::Word* tile, int64_t count, float* y,
                                                       int64_t y_stride, int64_t r0) {
  using Word = typename Path::Word;
  constexpr int64_t M = Path::kBlockInputs, K = Path::kBlockRows;
  float acc[M][K];
  for (int64_t i = 0; i < n; i += M) {
    const int64_t inputs = std::min<int64_t>(M, n - i);
    const Word* xr[M];
    for (int64_t m = 0; m < M; ++m) xr[m] = xs.row(i + std::min(m, inputs - 1)) + c0;
    for (int64_t j = 0; j < count; j += K) {
      const int64_t outputs = std::min<int64_t>(K, count - j);
      const Word* wr[K];
      for (int64_t k = 0; k < K; ++k) wr[k] = tile + (j + std::min(k, outputs - 1)) * kColBlock;
      Path::Block(xr, wr, len, acc);
      for (int64_t m = 0; m < inputs; ++m) {
        float* out = y + (i + m) * y_stride + r0 + j;
        for (int64_t k = 0; k < outputs; ++k) out[k] = c0 == 0 ? acc[m][k] : out[k] + acc[m][k];
      }
    }
  }
}

// The whole operation for one format on one path, as a MatMulPlan: up to kFusedInputs inputs,
// a unit is a group of rows that the path's few-input kernel streams once; more, a tile of
// kRowTile rows.
template <class Path>
class PathPlan final : public MatMulPlan {
 public:
  PathPlan(const WeightMatrix& w, const float* x, int64_t n, float* y)
      : PathPlan(w, std::make_shared<const typename Path::Inputs>(x, n, w.cols), n, y) {}
  // Over inputs already converted (ForSameInputs).
  PathPlan(const WeightMatrix& w, std::shared_ptr<const typename Path::Inputs> xs, int64_t n, float* y)
      : MatMulPlan(w.rows, n <= kFusedInputs ? Path::kRowsPerGroup : kRowTile), w_(w), n_(n), y_(y), xs_(std::move(xs)) {}

  std::unique_ptr<MatMulPlan> ForSameInputs(const WeightMatrix& w, float* y) const override {
    if (w.format != w_.format || w.cols != w_.cols) Fail(StatusCode::kInvalidArgument, "MatMul: a plan's inputs taken for a matrix of another format or width");
    return std::make_unique<PathPlan>(w, xs_, n_, y);
  }

  DEEPSEEK_KERNEL_ATTR void Run(int64_t begin, int64_t end) const override {
    if (begin >= end) return;
    const SubnormalsKept<Codec> subnormals_kept;
    if (n_ <= kFusedInputs) {
      Path::Dots(w_, FirstRow(begin), FirstRow(end), *xs_, n_, y_);
    } else {
      RunTiles(begin, end);
    }
  }

 private:
  using Codec = typename Path::Codec;

  // Each tile is decoded kColBlock columns at a time into a scratch block that stays in L2
  // while every input is multiplied against it.
  DEEPSEEK_KERNEL_ATTR void RunTiles(int64_t begin, int64_t end) const {
    const int64_t full = w_.cols - w_.cols % Path::kStep;
    const auto tile = hwy::AllocateAligned<typename Path::Word>(static_cast<size_t>(kRowTile * kColBlock));
    if (!tile) throw std::bad_alloc();
    for (int64_t t = begin; t < end; ++t) {
      const int64_t r0 = FirstRow(t), count = FirstRow(t + 1) - r0;
      for (int64_t c0 = 0; c0 < full; c0 += kColBlock) {
        const int64_t c1 = std::min(full, c0 + kColBlock);
        DecodeTile<Path>(w_, r0, count, c0, c1, tile.get());
        // The next block's weights come in from memory while this one is multiplied.
        if (c1 < full) {
          PrefetchBlock(r0, count, c1, std::min(full, c1 + kColBlock));
        } else if (t + 1 < end) {
          PrefetchBlock(FirstRow(t + 1), FirstRow(t + 2) - FirstRow(t + 1), 0, std::min(full, kColBlock));
        }
        MultiplyTileBlock<Path>(*xs_, n_, c0, c1 - c0, tile.get(), count, y_, w_.rows, r0);
      }
      // Scale back from decoded units, then the columns after the last full step, exactly.
      for (int64_t i = 0; i < n_; ++i) {
        float* yi = y_ + i * w_.rows;
        for (int64_t r = r0; r < r0 + count; ++r) {
          yi[r] = AddTailColumns<Codec>(Codec::RowAt(w_, r), full, w_.cols, xs_->row(i),
                                        full > 0 ? yi[r] * Path::kOutputScale : 0.0f);
        }
      }
    }
  }

  void PrefetchBlock(int64_t r0, int64_t count, int64_t c0, int64_t c1) const {
    for (int64_t r = r0; r < r0 + count; ++r) {
      const typename Codec::Row row = Codec::RowAt(w_, r);
      PrefetchStep<Codec>(&row, 1, c0, c1 - c0);
    }
  }

  WeightMatrix w_;
  int64_t n_;
  float* y_;
  std::shared_ptr<const typename Path::Inputs> xs_;  // shared by the plans ForSameInputs makes
};

// One dispatch per call: the bf16 path where the CPU has it and the format's inputs are bf16.
template <class Codec>
std::unique_ptr<MatMulPlan> PlanT(const WeightMatrix& w, const float* x, int64_t n, float* y) {
#if DEEPSEEK_BF16_DOT
  if constexpr (Codec::kBf16Inputs) {
    if (Bf16DotEnabled()) return std::make_unique<PathPlan<Bf16DotPath<Codec>>>(w, x, n, y);
  }
#endif
  return std::make_unique<PathPlan<F32Path<Codec>>>(w, x, n, y);
}

}  // namespace deepseek::backend::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DEEPSEEK_BACKENDS_CPU_MATMUL_INL_H_ toggle

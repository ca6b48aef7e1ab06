// Float -> storage-code encoders (e4m3fn, e2m1, e8m0) and the two weight block formats of the
// V4 checkpoints (FP8 128x128 blocks, MXFP4 1x32 blocks). The values they encode are exactly
// those of core/numerics.h's FakeQuantFp8Block / FakeQuantFp4Block; only the codes are new.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/numerics.h"

namespace deepseek::tinygen {

// The e4m3fn code of num::RoundE4m3(x) for finite |x| <= 448. Never 0x7f/0xff (NaN).
// Bit arithmetic instead of frexp/ldexp because it runs once per weight of multi-GB files.
inline uint8_t EncodeE4m3(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  const uint8_t sign = static_cast<uint8_t>((u >> 24) & 0x80);
  u &= 0x7fffffffu;
  if (u < 0x3c800000u) {  // below 2^-6: subnormal codes are multiples of 2^-9 (8 -> 2^-6, normal)
    float f;
    std::memcpy(&f, &u, 4);
    return sign | static_cast<uint8_t>(std::nearbyint(f * 512.0f));
  }
  u -= 120u << 23;                     // rebias the exponent from 127 to 7
  u += 0x7ffffu + ((u >> 20) & 1u);    // round the 23-bit mantissa to 3 bits, ties to even
  return sign | static_cast<uint8_t>(u >> 20);
}

// The e2m1 nibble (bit 3 = sign) of num::RoundE2m1(x), saturating beyond +-6 like a clamp.
// Counting the rounding thresholds below |x| gives the code without branches (so loops over it
// vectorise); the strict and non-strict comparisons reproduce RoundE2m1's ties to even.
inline uint8_t EncodeE2m1(float x) {
  const float a = std::fabs(x);
  const int code = (a > 0.25f) + (a >= 0.75f) + (a > 1.25f) + (a >= 1.75f) + (a > 2.5f) + (a >= 3.5f) + (a > 5.0f);
  const int negative = (x < 0.0f) & (code != 0);
  return static_cast<uint8_t>(code | (negative << 3));
}

// The e8m0 code of a normal power of two: its float exponent field (both are biased by 127).
inline uint8_t EncodeE8m0(float pow2) {
  uint32_t u;
  std::memcpy(&u, &pow2, 4);
  return static_cast<uint8_t>(u >> 23);
}

// max |x[i]| over n finite values. The bit patterns of non-negative floats order like the
// floats, so an integer max reduction is exact and, unlike a float one, vectorises.
inline float AbsMax(const float* x, int n) {
  uint32_t m = 0;
  for (int i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, x + i, 4);
    m = std::max(m, u & 0x7fffffffu);
  }
  float f;
  std::memcpy(&f, &m, 4);
  return f;
}

// One FP8 weight block of rows x cols values (row stride ld): writes the e4m3 codes (row stride
// ld_codes) and returns the block's e8m0 scale code. Scale = Pow2Ceil(max(amax, 1e-4) / 448).
inline uint8_t QuantizeFp8Block(const float* x, int64_t ld, int rows, int cols, uint8_t* codes,
                                int64_t ld_codes) {
  float amax = 0.0f;
  for (int r = 0; r < rows; ++r) amax = std::max(amax, AbsMax(x + r * ld, cols));
  const float scale = num::Pow2Ceil(std::fmax(amax, 1e-4f) * (1.0f / 448.0f));
  const float inv = 1.0f / scale;  // exact: scale is a power of two, so x * inv == x / scale
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c)
      codes[r * ld_codes + c] = EncodeE4m3(std::clamp(x[r * ld + c] * inv, -448.0f, 448.0f));
  return EncodeE8m0(scale);
}

// One row of an MXFP4 weight: cols (a multiple of 32) values -> cols/2 packed bytes (low nibble
// = even element) and cols/32 e8m0 scales. Scale = Pow2Ceil(max(amax, 6 * 2^-126) / 6).
inline void QuantizeMxfp4Row(const float* x, int64_t cols, uint8_t* packed, uint8_t* scales) {
  for (int64_t b = 0; b < cols / 32; ++b) {
    const float* v = x + b * 32;
    const float scale = num::Pow2Ceil(std::fmax(AbsMax(v, 32), 6.0f * 0x1p-126f) * (1.0f / 6.0f));
    const float inv = 1.0f / scale;  // exact, as above
    scales[b] = EncodeE8m0(scale);
    uint8_t codes[32];
    for (int i = 0; i < 32; ++i) codes[i] = EncodeE2m1(v[i] * inv);
    for (int i = 0; i < 16; ++i) packed[b * 16 + i] = static_cast<uint8_t>(codes[2 * i] | (codes[2 * i + 1] << 4));
  }
}

}  // namespace deepseek::tinygen

// Scalar number formats of the V4 checkpoints and of the reference's fake quantisation:
// bf16, FP8 e4m3fn, e8m0 (power-of-two scales) and FP4 e2m1. These are the exact definitions
// every kernel is tested against; SIMD kernels must agree with them bit for bit.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace deepseek::num {

// ---- bfloat16 ----------------------------------------------------------------------------
inline float Bf16ToFloat(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// The bits of f rounded to bf16, in the upper half: to nearest, ties to even (the rounding of
// torch's .to(bfloat16)); a NaN stays a quiet NaN. Both results are computed and one picked,
// without a branch, so that loops over arrays of floats vectorise.
inline uint32_t RoundedBf16Bits(uint32_t u) {
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  const uint32_t quiet_nan = (u | 0x00400000u) & 0xffff0000u;
  return (u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded;
}

inline uint16_t FloatToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>(RoundedBf16Bits(u) >> 16);
}

// The value a float takes when stored as bf16: the reference keeps activations in bf16.
inline float RoundBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u = RoundedBf16Bits(u);
  std::memcpy(&f, &u, 4);
  return f;
}

// ---- FP8 e4m3fn (OCP "FN": no infinities, 0x7f/0xff are NaN, max 448) ----------------------
inline float E4m3ToFloat(uint8_t code) {
  const int sign = code >> 7, exp = (code >> 3) & 0xf, man = code & 7;
  float v;
  if (exp == 0xf && man == 7) return NAN;
  if (exp == 0) v = std::ldexp(static_cast<float>(man), -9);  // subnormal: man/8 * 2^-6
  else v = std::ldexp(static_cast<float>(8 + man), exp - 10);  // (1 + man/8) * 2^(exp-7)
  return sign ? -v : v;
}

inline bool E4m3IsNan(uint8_t code) { return (code & 0x7f) == 0x7f; }

// Nearest e4m3 value, ties to even, for |x| <= 448 (callers clamp first, as the reference does).
inline float RoundE4m3(float x) {
  const float a = std::fabs(x);
  if (!(a > 0.0f)) return x;  // zero (keeps sign) or NaN
  int e;
  std::frexp(a, &e);               // a = m * 2^e, m in [0.5, 1)
  const int unbiased = e - 1;      // a in [2^unbiased, 2^(unbiased+1))
  const int quantum_exp = (unbiased < -6 ? -6 : unbiased) - 3;  // subnormals share 2^-9
  const float q = std::ldexp(std::nearbyint(std::ldexp(a, -quantum_exp)), quantum_exp);
  return std::copysign(q, x);
}

// The e4m3 code of the nearest e4m3 value to x (ties to even), saturating at ±448; NaN → 0x7f.
inline uint8_t FloatToE4m3(float x) {
  if (std::isnan(x)) return 0x7f;
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  const float q = RoundE4m3(std::fmin(std::fabs(x), 448.0f));
  if (q < 0x1p-6f) return static_cast<uint8_t>(sign | static_cast<uint8_t>(q * 512.0f));  // subnormal: q / 2^-9
  int e;
  const float m = std::frexp(q, &e);  // q = m * 2^e, m in [0.5, 1)
  const int exp_field = e - 1 + 7;
  const int man = static_cast<int>(m * 16.0f) - 8;  // (2m - 1) * 8
  return static_cast<uint8_t>(sign | (exp_field << 3) | man);
}

// ---- E8M0 scales (unsigned exponent, bias 127, 0xff = NaN) ---------------------------------
inline float E8m0ToFloat(uint8_t code) { return code == 0xff ? NAN : std::ldexp(1.0f, code - 127); }
inline bool E8m0IsNan(uint8_t code) { return code == 0xff; }

// The e8m0 code of a power of two in [2^-127, 2^127].
inline uint8_t Pow2ToE8m0(float pow2) {
  int e;
  std::frexp(pow2, &e);  // pow2 = 0.5 * 2^e
  return static_cast<uint8_t>(e - 1 + 127);
}

// Smallest power of two >= x for positive normal x: the "ue8m0" rounding of quantiser scales.
inline float Pow2Ceil(float x) {
  int e;
  const float m = std::frexp(x, &e);  // x = m * 2^e
  return m == 0.5f ? x : std::ldexp(1.0f, e);
}

// ---- FP4 e2m1 ---------------------------------------------------------------------------
inline constexpr float kE2m1Magnitudes[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

inline float E2m1ToFloat(uint8_t nibble) {
  const float v = kE2m1Magnitudes[nibble & 7];
  return (nibble & 8) ? -v : v;
}

// Nearest e2m1 value, ties to even mantissa, for |x| <= 6.
inline float RoundE2m1(float x) {
  const float a = std::fabs(x);
  float r;
  if (a <= 0.25f) r = 0.0f;          // tie at 0.25 goes to 0 (even)
  else if (a < 0.75f) r = 0.5f;
  else if (a <= 1.25f) r = 1.0f;     // ties 0.75 -> 1, 1.25 -> 1
  else if (a < 1.75f) r = 1.5f;
  else if (a <= 2.5f) r = 2.0f;      // ties 1.75 -> 2, 2.5 -> 2
  else if (a < 3.5f) r = 3.0f;
  else if (a <= 5.0f) r = 4.0f;      // ties 3.5 -> 4, 5 -> 4
  else r = 6.0f;
  return std::copysign(r, x);
}

// The e2m1 nibble of the nearest e2m1 value to x (ties to even), saturating at ±6.
inline uint8_t FloatToE2m1(float x) {
  const float r = RoundE2m1(std::fmin(std::fabs(x), 6.0f));
  uint8_t code = 0;
  while (kE2m1Magnitudes[code] != r) ++code;
  return static_cast<uint8_t>((std::signbit(x) ? 8 : 0) | code);
}

// ---- Block fake quantisation (quantise then dequantise, as the reference's QAT does) ---------
// Block scales, shared by the fake quantisation and the packed KV rows that store its results:
// FP8 s = Pow2Ceil(max(amax, 1e-4) / 448); FP4 s = Pow2Ceil(max(amax, 6 * 2^-126) / 6).
inline float BlockAmax(const float* x, int n) {
  float amax = 0.0f;
  for (int i = 0; i < n; ++i) amax = std::fmax(amax, std::fabs(x[i]));
  return amax;
}
inline float Fp8BlockScale(float amax) { return Pow2Ceil(std::fmax(amax, 1e-4f) * (1.0f / 448.0f)); }
inline float Fp4BlockScale(float amax) { return Pow2Ceil(std::fmax(amax, 6.0f * 0x1p-126f) * (1.0f / 6.0f)); }

// FP8: x <- e4m3(clamp(x / s, +-448)) * s, per block.
inline void FakeQuantFp8Block(float* x, int n) {
  const float s = Fp8BlockScale(BlockAmax(x, n));
  for (int i = 0; i < n; ++i) {
    const float q = std::fmin(std::fmax(x[i] / s, -448.0f), 448.0f);
    x[i] = RoundE4m3(q) * s;
  }
}

// FP4: x <- e2m1(clamp(x / s, +-6)) * s, per block.
inline void FakeQuantFp4Block(float* x, int n) {
  const float s = Fp4BlockScale(BlockAmax(x, n));
  for (int i = 0; i < n; ++i) {
    const float q = std::fmin(std::fmax(x[i] / s, -6.0f), 6.0f);
    x[i] = RoundE2m1(q) * s;
  }
}

// NVFP4 (V4.1's compressed KV, spec §8.9): the scale is e4m3(max(amax, 6 · 2^-9) / 6), not a
// power of two; x <- e2m1(clamp(x / s, +-6)) * s, per block (of 16).
inline void FakeQuantNvfp4Block(float* x, int n) {
  const float s = E4m3ToFloat(FloatToE4m3(std::fmax(BlockAmax(x, n), 6.0f * 0x1p-9f) / 6.0f));
  for (int i = 0; i < n; ++i) {
    const float q = std::fmin(std::fmax(x[i] / s, -6.0f), 6.0f);
    x[i] = RoundE2m1(q) * s;
  }
}

// ---- RMSNorm ------------------------------------------------------------------------------
// y[r] = bf16(weight · (x[r] / sqrt(mean(x[r]²) + eps))) per row of dim values, statistics and
// products in fp32 (the reference's RMSNorm); shared by the model's operators and the backends'
// encoders.
inline void RmsNormRows(const float* x, int64_t rows, int64_t dim, const float* weight, float eps, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float ss = 0;
    for (int64_t i = 0; i < dim; ++i) ss += xr[i] * xr[i];
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) y[r * dim + i] = RoundBf16(weight[i] * (xr[i] * inv));
  }
}

}  // namespace deepseek::num

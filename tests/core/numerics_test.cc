// Exhaustive checks of the scalar number formats against their definitions.
#include "core/numerics.h"

#include <doctest/doctest.h>

#include <cmath>
#include <algorithm>
#include <set>
#include <vector>

using namespace deepseek::num;

TEST_CASE("e4m3fn decodes every code per the OCP FN definition") {
  int nan_codes = 0;
  for (int c = 0; c < 256; ++c) {
    const float v = E4m3ToFloat(static_cast<uint8_t>(c));
    const int sign = c >> 7, exp = (c >> 3) & 15, man = c & 7;
    if (exp == 15 && man == 7) {
      CHECK(std::isnan(v));
      CHECK(E4m3IsNan(static_cast<uint8_t>(c)));
      ++nan_codes;
      continue;
    }
    const double mag = exp == 0 ? man / 8.0 * std::pow(2.0, -6) : (1 + man / 8.0) * std::pow(2.0, exp - 7);
    CHECK(v == static_cast<float>(sign ? -mag : mag));
    CHECK(std::fabs(v) <= 448.0f);
    CHECK_FALSE(E4m3IsNan(static_cast<uint8_t>(c)));
  }
  CHECK(nan_codes == 2);
  CHECK(E4m3ToFloat(0x7e) == 448.0f);
  CHECK(E4m3ToFloat(0x01) == std::ldexp(1.0f, -9));
}

TEST_CASE("e4m3 rounding is nearest-even and exact on every representable value") {
  std::set<float> values;
  for (int c = 0; c < 256; ++c) {
    if (E4m3IsNan(static_cast<uint8_t>(c))) continue;
    const float v = E4m3ToFloat(static_cast<uint8_t>(c));
    CHECK(RoundE4m3(v) == v);
    values.insert(v);
  }
  // Midpoints between neighbours round to the one with an even mantissa code.
  std::vector<float> sorted(values.begin(), values.end());
  for (size_t i = 0; i + 1 < sorted.size(); ++i) {
    const float lo = sorted[i], hi = sorted[i + 1];
    const float mid = (lo + hi) / 2;
    const float r = RoundE4m3(mid);
    CHECK((r == lo || r == hi));
    // Find the code of the result and check its mantissa LSB is 0 (ties to even).
    for (int c = 0; c < 128; ++c) {
      if (E4m3ToFloat(static_cast<uint8_t>(c)) == std::fabs(r) && std::fabs(r) != 0.0f) {
        CHECK((c & 1) == 0);
      }
    }
    CHECK(RoundE4m3(std::nextafter(mid, hi)) == hi);
    CHECK(RoundE4m3(std::nextafter(mid, lo)) == lo);
  }
}

TEST_CASE("e8m0 decodes every code as a power of two, 0xff as NaN") {
  for (int c = 0; c < 255; ++c) {
    CHECK(E8m0ToFloat(static_cast<uint8_t>(c)) == std::ldexp(1.0f, c - 127));
  }
  CHECK(std::isnan(E8m0ToFloat(0xff)));
  CHECK(E8m0IsNan(0xff));
}

TEST_CASE("e2m1 decodes all 16 codes and rounds nearest-even") {
  const float expect[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (int c = 0; c < 16; ++c) {
    const float v = E2m1ToFloat(static_cast<uint8_t>(c));
    CHECK(std::fabs(v) == expect[c & 7]);
    CHECK(std::signbit(v) == ((c & 8) != 0));
    CHECK(RoundE2m1(v) == v);
  }
  // Ties: 0.25->0, 0.75->1, 1.25->1, 1.75->2, 2.5->2, 3.5->4, 5->4.
  CHECK(RoundE2m1(0.25f) == 0.0f);
  CHECK(RoundE2m1(0.75f) == 1.0f);
  CHECK(RoundE2m1(1.25f) == 1.0f);
  CHECK(RoundE2m1(1.75f) == 2.0f);
  CHECK(RoundE2m1(2.5f) == 2.0f);
  CHECK(RoundE2m1(3.5f) == 4.0f);
  CHECK(RoundE2m1(5.0f) == 4.0f);
  CHECK(RoundE2m1(-5.1f) == -6.0f);
}

TEST_CASE("bf16 round trip and nearest-even rounding") {
  for (uint32_t hi = 0; hi < 65536; ++hi) {
    const float f = Bf16ToFloat(static_cast<uint16_t>(hi));
    if (std::isnan(f)) {
      CHECK(std::isnan(RoundBf16(f)));
    } else {
      CHECK(FloatToBf16(f) == hi);
    }
  }
  CHECK(RoundBf16(1.0f + 0x1p-8f) == 1.0f);               // tie -> even
  CHECK(RoundBf16(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f); // tie -> even (up)
}

TEST_CASE("bf16 rounding of every kind of float bits: the branch-free form against the definition") {
  // The definition: a NaN keeps its sign and upper payload and becomes quiet; anything else
  // rounds to nearest even on the upper 16 bits (the largest floats round up to infinity).
  const auto definition = [](uint32_t u) -> uint32_t {
    if ((u & 0x7fffffffu) > 0x7f800000u) return ((u >> 16) | 0x40u) << 16;
    return ((u + 0x7fffu + ((u >> 16) & 1u)) >> 16) << 16;
  };
  uint64_t checked = 0;
  for (uint64_t u = 0; u <= 0xffffffffull; u += 65521) {  // a prime stride: every low-half pattern class
    for (const uint32_t v : {static_cast<uint32_t>(u), static_cast<uint32_t>(u) | 0x8000u, static_cast<uint32_t>(u) & 0xffff0000u}) {
      CAPTURE(v);
      CHECK(RoundedBf16Bits(v) == definition(v));
      ++checked;
    }
  }
  CHECK(checked > 190000);
  CHECK(RoundedBf16Bits(0x7f7fffffu) == 0x7f800000u);  // FLT_MAX rounds to infinity
  CHECK(RoundedBf16Bits(0x7f800001u) == 0x7fc00000u);  // a signalling NaN becomes quiet
  CHECK(RoundedBf16Bits(0xff800000u) == 0xff800000u);  // −inf stays
}

TEST_CASE("Pow2Ceil gives the smallest power of two not below x") {
  CHECK(Pow2Ceil(1.0f) == 1.0f);
  CHECK(Pow2Ceil(1.0000001f) == 2.0f);
  CHECK(Pow2Ceil(0.75f) == 1.0f);
  CHECK(Pow2Ceil(1024.0001f) == 2048.0f);
  CHECK(Pow2Ceil(3e-7f) == std::ldexp(1.0f, -21));
}

TEST_CASE("block fake quantisation keeps values on the grid and within one step") {
  float x[64];
  for (int i = 0; i < 64; ++i) x[i] = std::sin(i * 0.37f) * (1 + i);
  float y[64];
  std::copy(x, x + 64, y);
  FakeQuantFp8Block(y, 64);
  float amax = 0;
  for (float v : x) amax = std::fmax(amax, std::fabs(v));
  const float s = Pow2Ceil(amax / 448);
  for (int i = 0; i < 64; ++i) {
    CHECK(RoundE4m3(y[i] / s) == y[i] / s);
    CHECK(std::fabs(y[i] - x[i]) <= std::fabs(x[i]) / 16 + s * 0x1p-9f);
  }
  float z[32];
  std::copy(x, x + 32, z);
  FakeQuantFp4Block(z, 32);
  float amax4 = 0;
  for (int i = 0; i < 32; ++i) amax4 = std::fmax(amax4, std::fabs(x[i]));
  const float s4 = Pow2Ceil(amax4 / 6);
  for (int i = 0; i < 32; ++i) CHECK(RoundE2m1(z[i] / s4) == z[i] / s4);
}

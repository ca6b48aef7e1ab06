// The experts' SwiGLU kernel (backends/cpu/swiglu.h) on every compiled Highway target, against
// the same formula evaluated one float at a time with std::exp: within one bf16 ulp (the two
// exps differ by up to an ulp, which can move a bf16 rounding), identical for nearly every
// element; the special values as fp32 and torch give them; the same bits for any split.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "backends/cpu/swiglu.h"
#include "core/numerics.h"
#include "support/hwy_targets.h"

namespace deepseek::backend::cpu {
namespace {

float ScalarSwiGlu(float gate, float up, float limit, float weight) {
  float g = num::RoundBf16(gate), u = num::RoundBf16(up);
  if (limit > 0) {
    u = std::fmin(std::fmax(u, -limit), limit);
    g = std::fmin(g, limit);
  }
  return num::RoundBf16(g / (1.0f + std::exp(-g)) * u * weight);
}

// Distance in bf16 steps between two bf16 values of the same sign (both finite).
int64_t Bf16Steps(float a, float b) {
  uint32_t ua, ub;
  std::memcpy(&ua, &a, 4);
  std::memcpy(&ub, &b, 4);
  return std::llabs(static_cast<int64_t>(ua >> 16) - static_cast<int64_t>(ub >> 16));
}

std::vector<float> Run(std::vector<float> gate, const std::vector<float>& up, float limit, float weight) {
  SwiGluBf16(gate.data(), up.data(), static_cast<int64_t>(gate.size()), limit, weight);
  return gate;
}

TEST_CASE("SwiGluBf16 on every target: the fp32 formula to within one bf16 ulp, specials, any split") {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  constexpr int64_t kCount = 4099;  // not a multiple of any target's lanes: the tail is exercised
  std::vector<float> gate(kCount), up(kCount);
  for (int64_t j = 0; j < kCount; ++j) {
    gate[static_cast<size_t>(j)] = normal(rng);
    up[static_cast<size_t>(j)] = normal(rng);
  }
  testing::ForEachHwyTarget([&] {
    for (const float limit : {0.0f, 7.0f}) {
      CAPTURE(limit);
      const float weight = 0.37f;
      const std::vector<float> got = Run(gate, up, limit, weight);
      int64_t differ = 0;
      for (int64_t j = 0; j < kCount; ++j) {
        const size_t i = static_cast<size_t>(j);
        const float want = ScalarSwiGlu(gate[i], up[i], limit, weight);
        CAPTURE(gate[i]);
        CAPTURE(up[i]);
        CHECK(num::RoundBf16(got[i]) == got[i]);  // a bf16 value
        if (got[i] != want) {
          ++differ;
          CHECK(std::signbit(got[i]) == std::signbit(want));
          CHECK(Bf16Steps(got[i], want) <= 1);
        }
      }
      CHECK(differ <= kCount / 100);

      // Any split of the elements gives the same bits (the tail takes the same arithmetic).
      std::vector<float> split = gate;
      for (const auto& [begin, end] : {std::pair<int64_t, int64_t>{0, 5}, {5, 21}, {21, 4000}, {4000, kCount}}) {
        SwiGluBf16(split.data() + begin, up.data() + begin, end - begin, limit, weight);
      }
      CHECK(std::memcmp(split.data(), got.data(), sizeof(float) * kCount) == 0);
    }

    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    // gate, up, limit -> expected
    struct Case {
      float gate, up, limit, want;
    };
    for (const Case& c : {Case{-200.0f, 1.0f, 0.0f, -0.0f},   // e^200 overflows: silu = g / inf = −0
                          Case{-95.0f, 2.0f, 7.0f, -0.0f},
                          Case{1000.0f, 1.5f, 0.0f, 1504.0f},  // 1500 is a tie between bf16 1496 and 1504: even
                          Case{inf, 2.0f, 7.0f, ScalarSwiGlu(7.0f, 2.0f, 7.0f, 1.0f)},  // the gate clamped from above
                          Case{1.0f, -inf, 7.0f, ScalarSwiGlu(1.0f, -7.0f, 7.0f, 1.0f)},
                          Case{0.0f, 5.0f, 0.0f, 0.0f}}) {
      CAPTURE(c.gate);
      CAPTURE(c.up);
      const float got = Run({c.gate}, {c.up}, c.limit, 1.0f)[0];
      CHECK(got == c.want);
      CHECK(std::signbit(got) == std::signbit(c.want));
    }
    // A NaN gate or up gives NaN, clamped or not (torch.clamp keeps NaN).
    for (const float limit : {0.0f, 7.0f}) {
      CHECK(std::isnan(Run({nan}, {1.0f}, limit, 1.0f)[0]));
      CHECK(std::isnan(Run({1.0f}, {nan}, limit, 1.0f)[0]));
    }
  });
}

}  // namespace
}  // namespace deepseek::backend::cpu

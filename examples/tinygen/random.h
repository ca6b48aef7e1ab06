// Seeded, counter-based random numbers for the tiny-checkpoint generator. Every tensor chunk
// derives its own stream from (seed, tensor name, chunk), so the bytes do not depend on the
// order or the thread in which chunks are generated.
#pragma once

#include <cstdint>
#include <string_view>

namespace deepseek::tinygen {

// splitmix64's finaliser: a bijective 64-bit mixer with good avalanche.
inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

inline uint64_t Combine(uint64_t a, uint64_t b) { return Mix64(a ^ Mix64(b + 0x9e3779b97f4a7c15ull)); }

// FNV-1a; only used to turn tensor names into stream keys.
inline uint64_t HashName(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return h;
}

// splitmix64 stream: one add and one mix per draw, which keeps multi-GB generation fast.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() { return Mix64(state_ += 0x9e3779b97f4a7c15ull); }

  // Uniform in [0, 1) with 24 bits of resolution (exact in float).
  float Uniform() { return static_cast<float>(Next() >> 40) * 0x1p-24f; }

  // Approximately standard normal: the Irwin-Hall sum of four 16-bit uniforms, rescaled to unit
  // variance. Tails stop at +-3.46, which is all weights need and keeps one draw per value.
  float Normal() {
    const uint64_t r = Next();
    const uint64_t pairs = (r & 0x0000ffff0000ffffull) + ((r >> 16) & 0x0000ffff0000ffffull);  // 2 x 17-bit sums
    const uint32_t sum = static_cast<uint32_t>(pairs) + static_cast<uint32_t>(pairs >> 32);
    constexpr float kScale = 1.7320508f / 65536.0f;  // sqrt(12 / 4) per unit of a 16-bit uniform
    return (static_cast<float>(sum) - 131070.0f) * kScale;
  }

  // Uniform integer in [0, n) for small n (the bias of the 64-bit modulo is negligible here).
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(Next() % n); }

 private:
  uint64_t state_;
};

}  // namespace deepseek::tinygen

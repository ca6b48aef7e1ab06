#include "core/numpy_random.h"

#include <array>

#include "core/error.h"

namespace deepseek {
namespace {

// SeedSequence's hashing constants (numpy/random/bit_generator.pyx).
constexpr uint32_t kInitA = 0x43b0d7e5, kMultA = 0x931e8875, kInitB = 0x8b51f9dd, kMultB = 0x58f38ded;
constexpr uint32_t kMixMultL = 0xca01f9dd, kMixMultR = 0x4973f715;
constexpr int kXShift = 16;
constexpr int kPoolSize = 4;

// SeedSequence(seed).generate_state(4, np.uint64): the seed's 32-bit words hashed into a pool
// of four words, which is then hashed out into eight words read as four little-endian uint64.
std::array<uint64_t, 4> SeedSequenceState(uint64_t seed) {
  std::array<uint32_t, 2> entropy{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  const int words = (seed >> 32) != 0 ? 2 : 1;  // a seed is as many words as it needs, at least one
  uint32_t hash_const = kInitA;
  const auto hashmix = [&](uint32_t value) {
    value ^= hash_const;
    hash_const *= kMultA;
    value *= hash_const;
    return value ^ (value >> kXShift);
  };
  const auto mix = [](uint32_t x, uint32_t y) {
    const uint32_t r = kMixMultL * x - kMixMultR * y;
    return r ^ (r >> kXShift);
  };
  std::array<uint32_t, kPoolSize> pool{};
  for (int i = 0; i < kPoolSize; ++i) pool[static_cast<size_t>(i)] = hashmix(i < words ? entropy[static_cast<size_t>(i)] : 0);
  for (int src = 0; src < kPoolSize; ++src) {
    for (int dst = 0; dst < kPoolSize; ++dst) {
      if (src != dst) pool[static_cast<size_t>(dst)] = mix(pool[static_cast<size_t>(dst)], hashmix(pool[static_cast<size_t>(src)]));
    }
  }
  uint32_t out_const = kInitB;
  std::array<uint32_t, 8> out{};
  for (size_t i = 0; i < out.size(); ++i) {
    uint32_t v = pool[i % kPoolSize] ^ out_const;
    out_const *= kMultB;
    v *= out_const;
    out[i] = v ^ (v >> kXShift);
  }
  std::array<uint64_t, 4> state{};
  for (size_t i = 0; i < state.size(); ++i) state[i] = out[2 * i] | (static_cast<uint64_t>(out[2 * i + 1]) << 32);
  return state;
}

constexpr unsigned __int128 kPcgMultiplier =
    (static_cast<unsigned __int128>(0x2360ED051FC65DA4ULL) << 64) | 0x4385DF649FCCF645ULL;

}  // namespace

NumpyPcg64::NumpyPcg64(uint64_t seed) {
  const std::array<uint64_t, 4> s = SeedSequenceState(seed);
  const unsigned __int128 initstate = (static_cast<unsigned __int128>(s[0]) << 64) | s[1];
  const unsigned __int128 initseq = (static_cast<unsigned __int128>(s[2]) << 64) | s[3];
  increment_ = (initseq << 1) | 1;
  Step();
  state_ += initstate;
  Step();
}

void NumpyPcg64::Step() { state_ = state_ * kPcgMultiplier + increment_; }

uint64_t NumpyPcg64::Next() {
  Step();
  const auto x = static_cast<uint64_t>(state_ >> 64) ^ static_cast<uint64_t>(state_);
  const auto rot = static_cast<unsigned>(state_ >> 122);
  return (x >> rot) | (x << ((64 - rot) & 63));
}

int64_t NumpyPcg64::Integer(int64_t low, int64_t high) {
  if (high <= low || static_cast<uint64_t>(high) - static_cast<uint64_t>(low) <= (uint64_t{1} << 32)) {
    Fail(StatusCode::kInvalidArgument, "NumpyPcg64::Integer: the range must be wider than 2^32");
  }
  const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);  // values [0, range)
  unsigned __int128 m = static_cast<unsigned __int128>(Next()) * range;
  auto leftover = static_cast<uint64_t>(m);
  if (leftover < range) {
    const uint64_t threshold = (0 - range) % range;
    while (leftover < threshold) {
      m = static_cast<unsigned __int128>(Next()) * range;
      leftover = static_cast<uint64_t>(m);
    }
  }
  return low + static_cast<int64_t>(static_cast<uint64_t>(m >> 64));
}

}  // namespace deepseek

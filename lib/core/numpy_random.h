// NumPy's default random generator, bit for bit: `numpy.random.default_rng(seed)` (a
// SeedSequence feeding PCG64, the 128-bit LCG with the XSL-RR output) and `Generator.integers`
// for int64 ranges wider than 32 bits (Lemire's multiply-shift rejection). The V4.1 reference
// draws Engram's hash multipliers this way; the library derives them as it does.
#pragma once

#include <cstdint>

namespace deepseek {

class NumpyPcg64 {
 public:
  // default_rng(seed) for a non-negative integer seed.
  explicit NumpyPcg64(uint64_t seed);
  // The next raw 64-bit output (bit_generator.random_raw()).
  uint64_t Next();
  // integers(low, high, dtype=np.int64) for one value, high - low > 2^32 (the 64-bit path; the
  // narrower ranges take NumPy's buffered 32-bit path, which this class does not reproduce).
  int64_t Integer(int64_t low, int64_t high);

 private:
  unsigned __int128 state_ = 0, increment_ = 0;
  void Step();
};

}  // namespace deepseek

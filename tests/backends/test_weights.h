// Test weights for the CPU kernels: random matrices of every format with the exact value of
// each element, the inputs the model passes, and a loop over every kernel the CPU can run.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/matmul.h"
#include "core/numerics.h"
#include "support/hwy_targets.h"

namespace deepseek::testing {
using backend::WeightFormat;
using backend::WeightMatrix;
namespace cpu = backend::cpu;

// Every compiled Highway target the CPU runs and, on AVX-512 targets of CPUs with AVX512_BF16,
// both of its paths: bf16 dot products and fp32 (cpu::SetBf16DotForTest).
template <typename Body>
void ForEachKernel(Body&& body) {
  struct Restore {
    ~Restore() { cpu::SetBf16DotForTest(true); }
  } restore;
  const bool has_bf16_dot = cpu::Bf16DotEnabled();
  ForEachHwyTarget([&] {
    for (bool bf16_dot : {true, false}) {
      if (bf16_dot && !has_bf16_dot) continue;
      INFO("bf16 dot products " << (bf16_dot ? "on" : "off"));
      cpu::SetBf16DotForTest(bf16_dot);
      body();
    }
  });
}

inline int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// A weight matrix with its storage and the exact value of every element.
struct TestWeights {
  WeightMatrix matrix;
  std::vector<uint8_t> data;
  std::vector<uint8_t> scales;
  std::vector<double> dense;  // [rows, cols]
};

inline uint8_t RandomByte(std::mt19937& rng) { return static_cast<uint8_t>(rng() & 0xff); }

inline int64_t Fp8Block(WeightFormat format) { return format == WeightFormat::kFp8Block32 ? 32 : 128; }

// The exact value of FP8 code `code` at (r, c) of a matrix of `cols` columns with these block scales.
inline double Fp8Value(WeightFormat format, int64_t cols, const std::vector<uint8_t>& scales, int64_t r, int64_t c, uint8_t code) {
  const int64_t block = Fp8Block(format);
  return static_cast<double>(num::E4m3ToFloat(code)) *
         num::E8m0ToFloat(scales[static_cast<size_t>(r / block * CeilDiv(cols, block) + c / block)]);
}

// Scale exponents stay near 2^0 so that no product under- or overflows.
inline uint8_t RandomScale(std::mt19937& rng) { return static_cast<uint8_t>(120 + rng() % 15); }

inline TestWeights MakeWeights(WeightFormat format, int64_t rows, int64_t cols, std::mt19937& rng) {
  TestWeights t;
  t.dense.resize(static_cast<size_t>(rows * cols));
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  switch (format) {
    case WeightFormat::kF32: {
      std::vector<float> values(t.dense.size());
      for (size_t k = 0; k < values.size(); ++k) t.dense[k] = values[k] = uniform(rng);
      t.data.resize(values.size() * sizeof(float));
      std::memcpy(t.data.data(), values.data(), t.data.size());
      break;
    }
    case WeightFormat::kBF16: {
      std::vector<uint16_t> values(t.dense.size());
      for (size_t k = 0; k < values.size(); ++k) {
        values[k] = num::FloatToBf16(uniform(rng));
        t.dense[k] = num::Bf16ToFloat(values[k]);
      }
      t.data.resize(values.size() * sizeof(uint16_t));
      std::memcpy(t.data.data(), values.data(), t.data.size());
      break;
    }
    case WeightFormat::kFp8Block128:
    case WeightFormat::kFp8Block32: {
      const int64_t block = Fp8Block(format);
      t.scales.resize(static_cast<size_t>(CeilDiv(rows, block) * CeilDiv(cols, block)));
      for (auto& s : t.scales) s = RandomScale(rng);
      t.data.resize(t.dense.size());
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
          uint8_t code;
          do code = RandomByte(rng);
          while (num::E4m3IsNan(code));
          const size_t k = static_cast<size_t>(r * cols + c);
          t.data[k] = code;
          t.dense[k] = Fp8Value(format, cols, t.scales, r, c, code);
        }
      }
      break;
    }
    case WeightFormat::kMxfp4: {
      t.scales.resize(static_cast<size_t>(rows * cols / 32));
      for (auto& s : t.scales) s = RandomScale(rng);
      t.data.resize(static_cast<size_t>(rows * cols / 2));
      for (auto& b : t.data) b = RandomByte(rng);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
          const uint8_t byte = t.data[static_cast<size_t>(r * cols / 2 + c / 2)];
          const uint8_t nibble = c % 2 == 0 ? byte & 0xf : byte >> 4;
          t.dense[static_cast<size_t>(r * cols + c)] =
              static_cast<double>(num::E2m1ToFloat(nibble)) *
              num::E8m0ToFloat(t.scales[static_cast<size_t>(r * cols / 32 + c / 32)]);
        }
      }
      break;
    }
  }
  t.matrix =
      WeightMatrix{format, rows, cols, t.data.data(), t.scales.empty() ? nullptr : t.scales.data()};
  return t;
}

// Inputs as the model passes them: bf16 values, except for fp32 weights (mHC mixing reads
// fp32 streams); MatMul reads other inputs as bf16 (tested below).
inline std::vector<float> RandomInput(WeightFormat format, int64_t n, int64_t cols, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n * cols));
  for (auto& v : x) v = format == WeightFormat::kF32 ? uniform(rng) : num::RoundBf16(uniform(rng));
  return x;
}

}  // namespace deepseek::testing

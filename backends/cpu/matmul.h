// Non-SIMD side of the CPU matmul: the plan of a product and one planner per weight format
// (each defined in its own matmul_<format>.cc, compiled per Highway target and dispatched once
// per call), the tiling constants, and the exact e8m0 scale tables the kernels share.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <limits>
#include <memory>

#include "backends/backend.h"

namespace deepseek {
class ThreadPool;
}

namespace deepseek::backend::cpu {

constexpr int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// y[n, w.rows] = x[n, w.cols] · Wᵀ prepared to run in pieces: the inputs are converted once
// (step order, bf16 words), then W's rows are cut into units (a group of the fused kernel, a
// tile of the tiled one) that any thread may run in any order, each output written by one unit
// in the canonical summation order whatever the split. One parallel region so covers several
// products at once (the experts of a MoE layer) instead of a fork-join per matrix.
class MatMulPlan {
 public:
  MatMulPlan(int64_t rows, int64_t rows_per_unit) : rows_(rows), rows_per_unit_(rows_per_unit) {}
  virtual ~MatMulPlan() = default;
  MatMulPlan(const MatMulPlan&) = delete;
  MatMulPlan& operator=(const MatMulPlan&) = delete;

  int64_t units() const { return CeilDiv(rows_, rows_per_unit_); }
  // The first row of W that unit u writes (W's row count for u = units()).
  int64_t FirstRow(int64_t u) const { return u * rows_per_unit_ < rows_ ? u * rows_per_unit_ : rows_; }
  // Writes the outputs of the rows of units [begin, end); threads may run disjoint ranges at
  // the same time.
  virtual void Run(int64_t begin, int64_t end) const = 0;
  // The plan of y = x · Wᵀ for another matrix w of the same format and width over this plan's
  // inputs, converted once for both (an expert's gate and up). Error kInvalidArgument for a
  // matrix of another format or width.
  virtual std::unique_ptr<MatMulPlan> ForSameInputs(const WeightMatrix& w, float* y) const = 0;

 private:
  int64_t rows_, rows_per_unit_;
};

// The plan for w's format (one dispatch per call), after the format's own checks (Error
// kInvalidArgument: FP8 or MXFP4 without scales, MXFP4 cols not a multiple of 32; kUnsupported:
// an unknown format). The other arguments are already validated (non-null, consistent shapes,
// n >= 1, rows >= 1, cols >= 1); x and y must outlive the plan.
std::unique_ptr<MatMulPlan> PlanMatMul(const WeightMatrix& w, const float* x, int64_t n, float* y);

// The whole product, its units split over `pool`.
void MatMul(const WeightMatrix& w, const float* x, int64_t n, float* y, ThreadPool& pool);

// The per-format planners behind PlanMatMul, each in its own matmul_<format>.cc.
std::unique_ptr<MatMulPlan> PlanMatMulF32(const WeightMatrix& w, const float* x, int64_t n, float* y);
std::unique_ptr<MatMulPlan> PlanMatMulBf16(const WeightMatrix& w, const float* x, int64_t n, float* y);
std::unique_ptr<MatMulPlan> PlanMatMulFp8(const WeightMatrix& w, const float* x, int64_t n, float* y);
std::unique_ptr<MatMulPlan> PlanMatMulFp8Block32(const WeightMatrix& w, const float* x, int64_t n, float* y);
std::unique_ptr<MatMulPlan> PlanMatMulMxfp4(const WeightMatrix& w, const float* x, int64_t n, float* y);

// Up to this many inputs, each path's few-input kernel decodes every weight once for all of
// them (units of a few rows). More inputs: threads take tiles of kRowTile rows of W; each tile
// is decoded kColBlock columns at a time into a block held in L2 that all n inputs are
// multiplied against, while the 4 input rows of the register block stay in L1. The same
// kColBlock columns are the summation blocks of the canonical order (matmul-inl.h).
inline constexpr int64_t kFusedInputs = 8;
inline constexpr int64_t kRowTile = 64;
inline constexpr int64_t kColBlock = 1024;

inline constexpr int64_t kFp8BlockSize = 128;   // FP8 scales cover 128 x 128 blocks (V4)
inline constexpr int64_t kFp8Block32Size = 32;  // or 32 x 32 blocks (V4.1's dense tensors)
inline constexpr int64_t kMxfp4BlockSize = 32;  // MXFP4 scales cover 1 x 32 blocks

// 2^(code − 127 − shift) for every e8m0 code (NaN for 0xff), built from bit patterns so that
// the values are exact (2^-127 and 2^-128 are subnormal) and the table is constant-initialised.
constexpr std::array<float, 256> MakeE8m0Table(int shift) {
  std::array<float, 256> table{};
  for (int code = 0; code < 255; ++code) {
    const int biased = code - shift;  // the float's biased exponent; <= 0 means subnormal
    table[code] = biased >= 1 ? std::bit_cast<float>(static_cast<uint32_t>(biased) << 23)
                              : std::bit_cast<float>(uint32_t{1} << (22 + biased));
  }
  table[255] = std::numeric_limits<float>::quiet_NaN();
  return table;
}
inline constexpr std::array<float, 256> kE8m0Scale = MakeE8m0Table(0);
inline constexpr std::array<float, 256> kE8m0HalfScale = MakeE8m0Table(1);

// e2m1 code i (bit 3 the sign) times the e8m0 scale `code`, as the fp32 path computes it: the
// largest products overflow to infinity, and code 255 is NaN. In double, then rounded once;
// code 255 is not multiplied (clang refuses NaN arithmetic in constant evaluation).
constexpr float ScaledE2m1(int code, int i) {
  constexpr float kMagnitudes[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  if (code == 255) return std::numeric_limits<float>::quiet_NaN();
  const float e2m1 = i < 8 ? kMagnitudes[i] : -kMagnitudes[i - 8];
  const double v = static_cast<double>(e2m1) * static_cast<double>(kE8m0Scale[static_cast<size_t>(code)]);
  return v > std::numeric_limits<float>::max()    ? std::numeric_limits<float>::infinity()
         : v < -std::numeric_limits<float>::max() ? -std::numeric_limits<float>::infinity()
                                                  : static_cast<float>(v);
}

// For every e8m0 code, the bf16 words of the 16 e2m1 codes times that scale: the MXFP4 lookup
// table of the bf16 paths. Every such product is a bf16 value (two significant bits, at least
// 2^-128: subnormal below 2^-126 but still exact), so the words are the products themselves;
// checked below.
using Mxfp4Bf16Table = std::array<uint16_t, 16>;
alignas(32) inline constexpr std::array<Mxfp4Bf16Table, 256> kMxfp4Bf16Tables = [] {
  std::array<Mxfp4Bf16Table, 256> tables{};
  for (int code = 0; code < 256; ++code) {
    for (int i = 0; i < 16; ++i) {
      tables[static_cast<size_t>(code)][static_cast<size_t>(i)] = static_cast<uint16_t>(std::bit_cast<uint32_t>(ScaledE2m1(code, i)) >> 16);
    }
  }
  return tables;
}();
static_assert([] {
  for (int code = 0; code < 255; ++code) {
    for (int i = 0; i < 16; ++i) {
      const uint32_t word = uint32_t{kMxfp4Bf16Tables[static_cast<size_t>(code)][static_cast<size_t>(i)]} << 16;
      if (word != std::bit_cast<uint32_t>(ScaledE2m1(code, i))) return false;
    }
  }
  return true;
}());

// kMxfp4Bf16Tables as bytes for 16-entry byte shuffles (the AVX2 fp32 path): per e8m0 code the
// low bytes of the 16 words, then their high bytes.
alignas(32) inline constexpr std::array<std::array<uint8_t, 32>, 256> kMxfp4Bf16ByteTables = [] {
  std::array<std::array<uint8_t, 32>, 256> tables{};
  for (size_t code = 0; code < 256; ++code) {
    for (size_t i = 0; i < 16; ++i) {
      tables[code][i] = static_cast<uint8_t>(kMxfp4Bf16Tables[code][i] & 0xff);
      tables[code][16 + i] = static_cast<uint8_t>(kMxfp4Bf16Tables[code][i] >> 8);
    }
  }
  return tables;
}();

// Whether AVX-512 kernels use the CPU's AVX512_BF16 dot products (matmul-inl.h): true where the
// CPU has them and AVX512_VBMI, unless turned off for a test of the fp32 path on the same target.
bool Bf16DotEnabled();
void SetBf16DotForTest(bool enabled);

}  // namespace deepseek::backend::cpu

// The format switch in front of the per-format planners, and a product run on its own.
#include "backends/cpu/matmul.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"

namespace deepseek::backend::cpu {

std::unique_ptr<MatMulPlan> PlanMatMul(const WeightMatrix& w, const float* x, int64_t n, float* y) {
  switch (w.format) {
    case WeightFormat::kF32:
      return PlanMatMulF32(w, x, n, y);
    case WeightFormat::kBF16:
      return PlanMatMulBf16(w, x, n, y);
    case WeightFormat::kFp8Block128:
    case WeightFormat::kFp8Block32:
      if (w.scales == nullptr) Fail(StatusCode::kInvalidArgument, "MatMul: FP8 weights without scales");
      return w.format == WeightFormat::kFp8Block32 ? PlanMatMulFp8Block32(w, x, n, y) : PlanMatMulFp8(w, x, n, y);
    case WeightFormat::kMxfp4:
      if (w.scales == nullptr) Fail(StatusCode::kInvalidArgument, "MatMul: MXFP4 weights without scales");
      if (w.cols % kMxfp4BlockSize != 0) {
        Fail(StatusCode::kInvalidArgument, "MatMul: MXFP4 cols " + std::to_string(w.cols) + " is not a multiple of 32");
      }
      return PlanMatMulMxfp4(w, x, n, y);
  }
  Fail(StatusCode::kUnsupported, "MatMul: unknown weight format " + std::to_string(static_cast<int>(w.format)));
}

void MatMul(const WeightMatrix& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  // With more inputs than the few-input kernels take, a matrix of few rows (a router, the mHC
  // mixes: one tile) has fewer units than the threads need: the inputs are then split among
  // plans too, each weight decoded once per plan, so that no thread waits while another
  // multiplies a whole prefill chunk alone. Each input's outputs are those it gets in any batch
  // (the kernels are batch-invariant).
  constexpr int64_t kMinTilesPerThread = 2;
  const int64_t wanted = kMinTilesPerThread * pool.num_threads(), tiles = CeilDiv(w.rows, kRowTile);
  const int64_t parts = n <= kFusedInputs || tiles >= wanted ? 1 : std::min(n / kFusedInputs, CeilDiv(wanted, tiles));
  std::vector<std::unique_ptr<MatMulPlan>> plans;
  std::vector<int64_t> first_unit{0};  // of each plan, in the range of all plans' units
  for (int64_t p = 0; p < parts; ++p) {
    const int64_t i0 = n * p / parts, i1 = n * (p + 1) / parts;
    plans.push_back(PlanMatMul(w, x + i0 * w.cols, i1 - i0, y + i0 * w.rows));
    first_unit.push_back(first_unit.back() + plans.back()->units());
  }
  pool.ParallelFor(first_unit.back(), [&](int64_t begin, int64_t end, int) {
    for (size_t p = 0; p < plans.size(); ++p) {
      const int64_t b = std::max(begin, first_unit[p]), e = std::min(end, first_unit[p + 1]);
      if (b < e) plans[p]->Run(b - first_unit[p], e - first_unit[p]);
    }
  });
}

}  // namespace deepseek::backend::cpu

// The format switch in front of the per-format planners, and a product run on its own.
#include "backends/cpu/matmul.h"

#include <string>

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
  const std::unique_ptr<MatMulPlan> plan = PlanMatMul(w, x, n, y);
  pool.ParallelFor(plan->units(), [&](int64_t begin, int64_t end, int) { plan->Run(begin, end); });
}

}  // namespace deepseek::backend::cpu

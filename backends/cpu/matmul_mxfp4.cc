// Matmul with MXFP4 weights: e2m1 pairs, 1 x 32 e8m0 block scales (PlanMatMulMxfp4 in matmul.h),
// compiled once per Highway target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/matmul_mxfp4.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "backends/cpu/matmul-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace deepseek::backend::cpu::HWY_NAMESPACE {
std::unique_ptr<MatMulPlan> PlanMatMulMxfp4Impl(const WeightMatrix& w, const float* x, int64_t n, float* y) {
  return PlanT<Mxfp4Codec>(w, x, n, y);
}
}  // namespace deepseek::backend::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace deepseek::backend::cpu {
HWY_EXPORT(PlanMatMulMxfp4Impl);
std::unique_ptr<MatMulPlan> PlanMatMulMxfp4(const WeightMatrix& w, const float* x, int64_t n, float* y) {
  return HWY_DYNAMIC_DISPATCH(PlanMatMulMxfp4Impl)(w, x, n, y);
}
}  // namespace deepseek::backend::cpu
#endif  // HWY_ONCE

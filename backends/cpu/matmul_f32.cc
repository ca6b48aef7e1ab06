// Matmul with float32 weights (PlanMatMulF32 in matmul.h), compiled once per Highway target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/matmul_f32.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "backends/cpu/matmul-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace deepseek::backend::cpu::HWY_NAMESPACE {
std::unique_ptr<MatMulPlan> PlanMatMulF32Impl(const WeightMatrix& w, const float* x, int64_t n, float* y) {
  return PlanT<F32Codec>(w, x, n, y);
}
}  // namespace deepseek::backend::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace deepseek::backend::cpu {
HWY_EXPORT(PlanMatMulF32Impl);
std::unique_ptr<MatMulPlan> PlanMatMulF32(const WeightMatrix& w, const float* x, int64_t n, float* y) {
  return HWY_DYNAMIC_DISPATCH(PlanMatMulF32Impl)(w, x, n, y);
}
}  // namespace deepseek::backend::cpu
#endif  // HWY_ONCE

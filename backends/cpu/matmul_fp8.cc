// Matmul with FP8 e4m3fn weights and e8m0 scales per 128 x 128 block (PlanMatMulFp8 in
// matmul.h) or per 32 x 32 block (PlanMatMulFp8Block32),
// compiled once per Highway target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/matmul_fp8.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "backends/cpu/matmul-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace deepseek::backend::cpu::HWY_NAMESPACE {
std::unique_ptr<MatMulPlan> PlanMatMulFp8Impl(const WeightMatrix& w, const float* x, int64_t n, float* y) {
  return PlanT<Fp8Codec<kFp8BlockSize>>(w, x, n, y);
}
std::unique_ptr<MatMulPlan> PlanMatMulFp8Block32Impl(const WeightMatrix& w, const float* x, int64_t n, float* y) {
  return PlanT<Fp8Codec<kFp8Block32Size>>(w, x, n, y);
}
}  // namespace deepseek::backend::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace deepseek::backend::cpu {
HWY_EXPORT(PlanMatMulFp8Impl);
HWY_EXPORT(PlanMatMulFp8Block32Impl);
std::unique_ptr<MatMulPlan> PlanMatMulFp8(const WeightMatrix& w, const float* x, int64_t n, float* y) {
  return HWY_DYNAMIC_DISPATCH(PlanMatMulFp8Impl)(w, x, n, y);
}
std::unique_ptr<MatMulPlan> PlanMatMulFp8Block32(const WeightMatrix& w, const float* x, int64_t n, float* y) {
  return HWY_DYNAMIC_DISPATCH(PlanMatMulFp8Block32Impl)(w, x, n, y);
}
}  // namespace deepseek::backend::cpu
#endif  // HWY_ONCE

// Matmul with MXFP4 weights: e2m1 pairs, 1 x 32 e8m0 block scales (MatMulMxfp4 in matmul.h),
// compiled once per Highway target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/matmul_mxfp4.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "backends/cpu/matmul-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace deepseek::backend::cpu::HWY_NAMESPACE {
void MatMulMxfp4Impl(const WeightMatrix& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  MatMulT<Mxfp4Codec>(w, x, n, y, pool);
}
}  // namespace deepseek::backend::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace deepseek::backend::cpu {
HWY_EXPORT(MatMulMxfp4Impl);
void MatMulMxfp4(const WeightMatrix& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  HWY_DYNAMIC_DISPATCH(MatMulMxfp4Impl)(w, x, n, y, pool);
}
}  // namespace deepseek::backend::cpu
#endif  // HWY_ONCE

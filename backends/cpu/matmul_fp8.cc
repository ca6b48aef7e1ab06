// Matmul with FP8 e4m3fn weights and 128 x 128 e8m0 block scales (MatMulFp8 in matmul.h),
// compiled once per Highway target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/matmul_fp8.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "backends/cpu/matmul-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace deepseek::backend::cpu::HWY_NAMESPACE {
void MatMulFp8Impl(const WeightMatrix& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  MatMulT<Fp8Codec>(w, x, n, y, pool);
}
}  // namespace deepseek::backend::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace deepseek::backend::cpu {
HWY_EXPORT(MatMulFp8Impl);
void MatMulFp8(const WeightMatrix& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  HWY_DYNAMIC_DISPATCH(MatMulFp8Impl)(w, x, n, y, pool);
}
}  // namespace deepseek::backend::cpu
#endif  // HWY_ONCE

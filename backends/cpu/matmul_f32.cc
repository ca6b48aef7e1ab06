// Matmul with float32 weights (MatMulF32 in matmul.h), compiled once per Highway target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/matmul_f32.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "backends/cpu/matmul-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace deepseek::backend::cpu::HWY_NAMESPACE {
void MatMulF32Impl(const WeightMatrix& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  MatMulT<F32Codec>(w, x, n, y, pool);
}
}  // namespace deepseek::backend::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace deepseek::backend::cpu {
HWY_EXPORT(MatMulF32Impl);
void MatMulF32(const WeightMatrix& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  HWY_DYNAMIC_DISPATCH(MatMulF32Impl)(w, x, n, y, pool);
}
}  // namespace deepseek::backend::cpu
#endif  // HWY_ONCE

// Matmul with bfloat16 weights (MatMulBf16 in matmul.h), compiled once per Highway target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/matmul_bf16.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "backends/cpu/matmul-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace deepseek::backend::cpu::HWY_NAMESPACE {
void MatMulBf16Impl(const WeightMatrix& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  MatMulT<Bf16Codec>(w, x, n, y, pool);
}
}  // namespace deepseek::backend::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace deepseek::backend::cpu {
HWY_EXPORT(MatMulBf16Impl);
void MatMulBf16(const WeightMatrix& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  HWY_DYNAMIC_DISPATCH(MatMulBf16Impl)(w, x, n, y, pool);
}
}  // namespace deepseek::backend::cpu
#endif  // HWY_ONCE

// Whether the AVX-512 kernels use AVX512_BF16 dot products (Bf16DotEnabled in matmul.h): the
// CPU features, looked up once, and the switch the kernel tests use to cover the fp32 path of
// the same Highway target.
#include <atomic>

#include "backends/cpu/matmul.h"

namespace deepseek::backend::cpu {
namespace {

bool CpuHasBf16Dot() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();  // may run before the constructors that initialise the feature table
  // The bf16 path's kernels also use AVX512_VBMI's byte permutes (FP8 decoding): every CPU
  // with AVX512_BF16 has them but Intel's Cooper Lake, which takes the fp32 path.
  return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vbmi");
#else
  return false;
#endif
}

std::atomic<bool>& Enabled() {
  static std::atomic<bool> enabled{CpuHasBf16Dot()};
  return enabled;
}

}  // namespace

bool Bf16DotEnabled() { return Enabled().load(std::memory_order_relaxed); }

void SetBf16DotForTest(bool enabled) { Enabled().store(enabled && CpuHasBf16Dot(), std::memory_order_relaxed); }

}  // namespace deepseek::backend::cpu

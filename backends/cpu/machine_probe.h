// Measures the two ceilings of the CPU that the benchmark compares its kernels against: the
// memory read bandwidth (decode streams every weight once per token) and the peak fp32 FMA rate
// (prefill GEMMs). Both run the same way the kernels do: one dispatched Highway kernel, every
// thread of the caller's pool.
#pragma once

#include <cstdint>
#include <string>

namespace deepseek {
class ThreadPool;
}

namespace deepseek::backend::cpu {

// GB/s (1e9 bytes per second) of reading a `bytes` buffer once, each thread of `pool` summing
// its contiguous share with vector loads: the best of `passes` timed passes after an untimed
// one that also faults the pages in. Throws kOutOfMemory when the buffer cannot be had.
double MeasureReadBandwidth(ThreadPool& pool, uint64_t bytes, int passes = 5);

// GFLOP/s of independent fp32 fused multiply-adds on every thread of `pool` (2 flops per lane
// per FMA): the best of a few timed runs of about 50 ms each.
double MeasurePeakFma(ThreadPool& pool);

// GFLOP/s of bf16 dot products (AVX512_BF16's vdpbf16ps, 4 flops per lane) measured the same
// way, on CPUs that have them; elsewhere bf16 inputs are widened and multiplied with fp32
// FMAs, so the fp32 FMA peak is the bf16 peak, and that is returned.
double MeasurePeakBf16(ThreadPool& pool);

// The SIMD target the CPU kernels were dispatched to in this process ("AVX3", "AVX2", ...).
std::string KernelTarget();

}  // namespace deepseek::backend::cpu

// The machine probes of machine_probe.h, compiled once per Highway target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/machine_probe.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "backends/cpu/machine_probe.h"
#include "backends/cpu/matmul.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "hwy/aligned_allocator.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace deepseek::backend::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// The sum of x[0, n): four independent accumulators keep the loads, not the adds, the limit.
float SumFloats(const float* HWY_RESTRICT x, int64_t n) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  VF a = hn::Zero(df), b = a, c = a, d = a;
  int64_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    a = hn::Add(a, hn::Load(df, x + i));
    b = hn::Add(b, hn::Load(df, x + i + lanes));
    c = hn::Add(c, hn::Load(df, x + i + 2 * lanes));
    d = hn::Add(d, hn::Load(df, x + i + 3 * lanes));
  }
  float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(hn::Add(a, b), hn::Add(c, d))));
  for (; i < n; ++i) sum += x[i];
  return sum;
}

// `iterations` rounds of twelve independent FMA chains (enough to cover the FMA latency times
// the FMA ports of current cores); returns a value that depends on all of them. Each chain
// starts from its own value: started alike, the chains are provably equal and the compiler
// keeps one of them (GCC 12 did, so the probe timed one dependent chain, 1/4 FMA per cycle,
// and reported 12 chains' flops: 1.5x the AVX2 peak of two FMAs per cycle).
float FmaChains(int64_t iterations) {
  const DF df;
  const VF m = hn::Set(df, 0.999999f), c = hn::Set(df, 1e-7f);
  VF a0 = hn::Set(df, 1.0f), a1 = hn::Set(df, 1.01f), a2 = hn::Set(df, 1.02f), a3 = hn::Set(df, 1.03f);
  VF a4 = hn::Set(df, 1.04f), a5 = hn::Set(df, 1.05f), a6 = hn::Set(df, 1.06f), a7 = hn::Set(df, 1.07f);
  VF a8 = hn::Set(df, 1.08f), a9 = hn::Set(df, 1.09f), a10 = hn::Set(df, 1.10f), a11 = hn::Set(df, 1.11f);
  for (int64_t i = 0; i < iterations; ++i) {
    a0 = hn::MulAdd(a0, m, c), a1 = hn::MulAdd(a1, m, c), a2 = hn::MulAdd(a2, m, c);
    a3 = hn::MulAdd(a3, m, c), a4 = hn::MulAdd(a4, m, c), a5 = hn::MulAdd(a5, m, c);
    a6 = hn::MulAdd(a6, m, c), a7 = hn::MulAdd(a7, m, c), a8 = hn::MulAdd(a8, m, c);
    a9 = hn::MulAdd(a9, m, c), a10 = hn::MulAdd(a10, m, c), a11 = hn::MulAdd(a11, m, c);
  }
  const VF s = hn::Add(hn::Add(hn::Add(a0, a1), hn::Add(a2, a3)), hn::Add(hn::Add(a4, a5), hn::Add(a6, a7)));
  return hn::GetLane(hn::SumOfLanes(df, hn::Add(s, hn::Add(hn::Add(a8, a9), hn::Add(a10, a11)))));
}

int64_t FloatLanes() { return static_cast<int64_t>(hn::Lanes(DF())); }

const char* TargetNameHere() { return hwy::TargetName(HWY_TARGET); }

}  // namespace deepseek::backend::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace deepseek::backend::cpu {
HWY_EXPORT(SumFloats);
HWY_EXPORT(FmaChains);
HWY_EXPORT(FloatLanes);
HWY_EXPORT(TargetNameHere);

namespace {
using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
// Keeps the probes' results alive so the compiler cannot drop the work.
volatile float g_sink = 0;
}  // namespace

double MeasureReadBandwidth(ThreadPool& pool, uint64_t bytes, int passes) {
  const int threads = pool.num_threads();
  const int64_t floats = static_cast<int64_t>(bytes / sizeof(float));
  // Each thread's share starts on a 64-byte boundary, so the aligned loads stay legal.
  const int64_t share = floats / threads / 16 * 16;
  if (share <= 0) Fail(StatusCode::kInvalidArgument, "MeasureReadBandwidth: buffer too small");
  auto buffer = hwy::AllocateAligned<float>(static_cast<size_t>(share * threads));
  if (!buffer) Fail(StatusCode::kOutOfMemory, "MeasureReadBandwidth: cannot allocate " + std::to_string(bytes) + " bytes");
  // Each thread writes its own share first, so its pages are local to it.
  pool.ParallelFor(threads, [&](int64_t begin, int64_t end, int) {
    for (int64_t t = begin; t < end; ++t) std::fill_n(buffer.get() + t * share, share, 1.0f);
  });
  const auto read_pass = [&] {
    std::vector<float> sums(static_cast<size_t>(threads));
    pool.ParallelFor(threads, [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) sums[static_cast<size_t>(t)] = HWY_DYNAMIC_DISPATCH(SumFloats)(buffer.get() + t * share, share);
    });
    for (float s : sums) g_sink = g_sink + s;
  };
  read_pass();
  double best = 0;
  for (int p = 0; p < std::max(1, passes); ++p) {
    const auto start = Clock::now();
    read_pass();
    best = std::max(best, static_cast<double>(share * threads) * sizeof(float) / Since(start) / 1e9);
  }
  return best;
}

namespace {

#if defined(__x86_64__)
// `iterations` rounds of twelve independent bf16 dot-product chains (vdpbf16ps: 16 lanes, two
// products each); only called on CPUs with AVX512_BF16.
__attribute__((target("avx512f,avx512bf16"))) float Bf16DotChains(int64_t iterations) {
  __m512i one_bits = _mm512_set1_epi16(0x3f80), tiny_bits = _mm512_set1_epi16(0x3380);  // 1.0 and 2^-24 in bf16
  const __m512bh one = reinterpret_cast<__m512bh&>(one_bits), tiny = reinterpret_cast<__m512bh&>(tiny_bits);
  __m512 a[12];  // distinct starting values, so that no chain can be merged with another
  for (int k = 0; k < 12; ++k) a[k] = _mm512_set1_ps(1.0f + 0.01f * static_cast<float>(k));
  for (int64_t i = 0; i < iterations; ++i) {
    for (__m512& v : a) v = _mm512_dpbf16_ps(v, one, tiny);
  }
  __m512 s = a[0];
  for (int k = 1; k < 12; ++k) s = _mm512_add_ps(s, a[k]);
  return _mm512_reduce_add_ps(s);
}
#endif

// GFLOP/s of `chains` (flops_per_iteration per call iteration) on every thread of the pool:
// calibrated to about 50 ms on one thread, then the best of three timed runs on all of them.
double MeasurePeak(ThreadPool& pool, float (*chains)(int64_t), double flops_per_iteration) {
  const int threads = pool.num_threads();
  int64_t iterations = 1 << 16;
  for (;;) {
    const auto start = Clock::now();
    g_sink = g_sink + chains(iterations);
    if (Since(start) > 0.01 || iterations > (int64_t{1} << 40)) break;
    iterations *= 2;
  }
  iterations *= 5;
  double best = 0;
  for (int run = 0; run < 3; ++run) {
    std::vector<float> sums(static_cast<size_t>(threads));
    const auto start = Clock::now();
    pool.ParallelFor(threads, [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) sums[static_cast<size_t>(t)] = chains(iterations);
    });
    const double seconds = Since(start);
    for (float s : sums) g_sink = g_sink + s;
    best = std::max(best, flops_per_iteration * static_cast<double>(iterations) * threads / seconds / 1e9);
  }
  return best;
}

}  // namespace

double MeasurePeakFma(ThreadPool& pool) {
  const auto chains = [](int64_t iterations) { return HWY_DYNAMIC_DISPATCH(FmaChains)(iterations); };
  return MeasurePeak(pool, chains, 2.0 * 12.0 * static_cast<double>(HWY_DYNAMIC_DISPATCH(FloatLanes)()));
}

double MeasurePeakBf16(ThreadPool& pool) {
#if defined(__x86_64__)
  if (Bf16DotEnabled()) return MeasurePeak(pool, Bf16DotChains, 12.0 * 16 * 2 * 2);
#endif
  return MeasurePeakFma(pool);
}

std::string KernelTarget() { return HWY_DYNAMIC_DISPATCH(TargetNameHere)(); }

}  // namespace deepseek::backend::cpu
#endif  // HWY_ONCE

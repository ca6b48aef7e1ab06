// The benchmark's machine probes on every compiled Highway target: they run, report the target
// they were dispatched to, and give finite, positive rates.
#include <doctest/doctest.h>
#include <hwy/targets.h>

#include <cmath>
#include <string>

#include "backends/cpu/machine_probe.h"
#include "backends/cpu/matmul.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "support/hwy_targets.h"

namespace deepseek::backend::cpu {
namespace {

TEST_CASE("machine probes: bandwidth, peak FMA, peak bf16 and target on every target") {
  ThreadPool pool(2);
  deepseek::testing::ForEachHwyTarget([&] {
    const double bandwidth = MeasureReadBandwidth(pool, uint64_t{16} << 20, 2);
    CHECK(std::isfinite(bandwidth));
    CHECK(bandwidth > 0.01);
    const double peak = MeasurePeakFma(pool);
    CHECK(std::isfinite(peak));
    CHECK(peak > 0.01);
    // bf16 dot products where the CPU has them, else the fp32 FMA rate (two runs: a loose bound).
    const double peak_bf16 = MeasurePeakBf16(pool);
    CHECK(std::isfinite(peak_bf16));
    if (!Bf16DotEnabled()) CHECK(peak_bf16 > 0.25 * peak);
    CHECK(KernelTarget() == hwy::TargetName(hwy::SupportedTargets() & -hwy::SupportedTargets()));
  });
}

TEST_CASE("machine probes: a buffer too small to share is an error, not a crash") {
  ThreadPool pool(2);
  CHECK_THROWS_AS(MeasureReadBandwidth(pool, 16, 1), Error);
}

}  // namespace
}  // namespace deepseek::backend::cpu

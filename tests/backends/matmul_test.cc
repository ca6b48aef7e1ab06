// CPU MatMul for every weight format on every compiled Highway target, against a scalar
// reference built from the exact decoders of core/numerics.h; plus argument checks.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include "backends/backend.h"
#include "backends/cpu/matmul.h"
#include "core/error.h"
#include "core/numerics.h"
#include "core/thread_pool.h"
#include "support/hwy_targets.h"
#include "test_weights.h"

namespace deepseek::backend {
namespace {

using testing::ForEachKernel;
using testing::MakeWeights;
using testing::RandomInput;
using testing::TestWeights;
using testing::Fp8Value;
using testing::RandomByte;

// max over outputs of |y − Σ x·w| / Σ |x·w|, the reference summed in double.
double WorstRelativeError(const TestWeights& w, const std::vector<float>& x, int64_t n,
                          const std::vector<float>& y) {
  const int64_t rows = w.matrix.rows, cols = w.matrix.cols;
  double worst = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t r = 0; r < rows; ++r) {
      double sum = 0.0, magnitude = 0.0;
      for (int64_t c = 0; c < cols; ++c) {
        const double p = static_cast<double>(x[static_cast<size_t>(i * cols + c)]) *
                         w.dense[static_cast<size_t>(r * cols + c)];
        sum += p;
        magnitude += std::fabs(p);
      }
      const double error = std::fabs(y[static_cast<size_t>(i * rows + r)] - sum);
      worst = std::max(worst, magnitude > 0.0 ? error / magnitude : error);
    }
  }
  return worst;
}

struct Shape {
  int64_t rows, cols;
};

TEST_CASE("kernels are tested on several Highway targets") {
  MESSAGE("Highway targets under test: " << testing::HwyTargetNames() << "; AVX-512 BF16 dot-product path "
                                           << (cpu::Bf16DotEnabled() ? "tested too" : "not available on this CPU"));
  CHECK(testing::HwyTargetsToTest().size() > 1);
}

TEST_CASE("MatMul matches the scalar reference for every format, target and batch size") {
  ThreadPool pool(3);
  const auto stream = Registry::Get().Cpu().CreateStream(pool);
  const struct {
    WeightFormat format;
    std::vector<Shape> shapes;
  } cases[] = {
      // Rows not a multiple of the 64-row tile or of 4; cols with a vector tail and cols
      // beyond the 1024-column block of the n > 1 kernel; cols beyond 2048, where eight bf16
      // inputs outgrow L1 and the few-input bf16 kernel takes the column blocks outermost.
      {WeightFormat::kF32, {{300, 200}, {5, 37}, {130, 1100}, {1, 1}}},
      {WeightFormat::kBF16, {{300, 200}, {5, 37}, {130, 1100}, {1, 1}, {37, 2200}}},
      // FP8 cols not a multiple of 128 (partial last scale block), rows spanning 3 row blocks.
      {WeightFormat::kFp8Block128, {{300, 200}, {128, 128}, {130, 1100}, {3, 17}, {260, 2200}}},
      // 32 x 32 blocks: cols not a multiple of 32, rows across many row blocks.
      {WeightFormat::kFp8Block32, {{300, 200}, {32, 32}, {130, 1100}, {3, 17}, {70, 45}, {70, 2200}}},
      {WeightFormat::kMxfp4, {{300, 96}, {70, 1056}, {1, 32}, {37, 2208}}},
  };
  std::mt19937 rng(1234);
  for (const auto& test : cases) {
    for (const Shape& shape : test.shapes) {
      const TestWeights w = MakeWeights(test.format, shape.rows, shape.cols, rng);
      for (int64_t n : {1, 3, 8, 17}) {
        const std::vector<float> x = RandomInput(test.format, n, shape.cols, rng);
        CAPTURE(WeightFormatName(test.format));
        CAPTURE(shape.rows);
        CAPTURE(shape.cols);
        CAPTURE(n);
        ForEachKernel([&] {
          std::vector<float> y(static_cast<size_t>(n * shape.rows), -1.0f);
          stream->MatMul(w.matrix, x.data(), n, y.data());
          CHECK(WorstRelativeError(w, x, n, y) <= 1e-5);
        });
      }
    }
  }
}

// Batch invariance: each output is summed in one order whatever n is, so a prompt processed in
// one call, in chunks or token by token gives bit-identical activations.
TEST_CASE("MatMul gives bit-identical rows for every batch size") {
  ThreadPool pool(2);
  const auto stream = Registry::Get().Cpu().CreateStream(pool);
  std::mt19937 rng(99);
  // The wider shapes take the few-input bf16 kernel's other loop order for 8 inputs.
  const std::pair<WeightFormat, Shape> cases[] = {{WeightFormat::kF32, {67, 1100}},
                                                  {WeightFormat::kBF16, {67, 1100}},
                                                  {WeightFormat::kBF16, {37, 2200}},
                                                  {WeightFormat::kFp8Block128, {130, 1100}},
                                                  {WeightFormat::kFp8Block128, {260, 2200}},
                                                  {WeightFormat::kFp8Block32, {130, 1100}},
                                                  {WeightFormat::kMxfp4, {70, 1056}},
                                                  {WeightFormat::kMxfp4, {37, 2208}}};
  for (const auto& [format, shape] : cases) {
    INFO("format " << std::string(WeightFormatName(format)));
    const TestWeights w = MakeWeights(format, shape.rows, shape.cols, rng);
    // Every batch size of the fused few-input kernel (1..8, each with its own register
    // blocking) and the tiles beyond it; from 16 inputs on, matrices of few tiles split the
    // inputs among plans (MatMul), which must not change them either.
    const int64_t n = 18;
    const std::vector<float> x = RandomInput(format, n, shape.cols, rng);
    ForEachKernel([&] {
      std::vector<float> batch(static_cast<size_t>(n * shape.rows));
      stream->MatMul(w.matrix, x.data(), n, batch.data());
      for (int64_t m = 1; m < n; ++m) {
        CAPTURE(m);
        const int64_t first = n - m;  // rows [first, n) of the batch
        std::vector<float> part(static_cast<size_t>(m * shape.rows));
        stream->MatMul(w.matrix, x.data() + first * shape.cols, m, part.data());
        CHECK(std::equal(part.begin(), part.end(), batch.begin() + first * shape.rows));
      }
    });
  }
}

// An expert's gate and up share one conversion of their inputs (MatMulPlan::ForSameInputs):
// the second plan's outputs are those of a plan of its own, on every path and input count.
TEST_CASE("A plan over another plan's inputs gives that matrix's own outputs") {
  std::mt19937 rng(5);
  for (WeightFormat format : {WeightFormat::kF32, WeightFormat::kBF16, WeightFormat::kFp8Block128, WeightFormat::kMxfp4}) {
    INFO("format " << std::string(WeightFormatName(format)));
    const TestWeights a = MakeWeights(format, 70, 1056, rng), b = MakeWeights(format, 70, 1056, rng);
    for (int64_t n : {1, 5, 12}) {
      CAPTURE(n);
      const std::vector<float> x = RandomInput(format, n, 1056, rng);
      ForEachKernel([&] {
        std::vector<float> ya(static_cast<size_t>(n * 70)), yb(ya.size()), alone(ya.size());
        const auto plan = cpu::PlanMatMul(a.matrix, x.data(), n, ya.data());
        const auto sibling = plan->ForSameInputs(b.matrix, yb.data());
        const auto own = cpu::PlanMatMul(b.matrix, x.data(), n, alone.data());
        plan->Run(0, plan->units());
        sibling->Run(0, sibling->units());
        own->Run(0, own->units());
        CHECK(yb == alone);
        CHECK(WorstRelativeError(a, x, n, ya) <= 1e-5);
      });
    }
    const TestWeights other = MakeWeights(format == WeightFormat::kF32 ? WeightFormat::kBF16 : WeightFormat::kF32, 70, 1056, rng);
    const TestWeights wider = MakeWeights(format, 70, 1088, rng);
    const std::vector<float> x = RandomInput(format, 1, 1056, rng);
    std::vector<float> y(70);
    const auto plan = cpu::PlanMatMul(a.matrix, x.data(), 1, y.data());
    CHECK_THROWS_AS(plan->ForSameInputs(other.matrix, y.data()), Error);
    CHECK_THROWS_AS(plan->ForSameInputs(wider.matrix, y.data()), Error);
  }
}

// The backend contract: inputs of bf16, FP8 and MXFP4 weights are read rounded to bf16 (the
// model's activations are bf16 values), on every path, so paths agree on any input.
TEST_CASE("MatMul reads the inputs of non-fp32 weights as bf16") {
  ThreadPool pool(2);
  const auto stream = Registry::Get().Cpu().CreateStream(pool);
  std::mt19937 rng(11);
  for (WeightFormat format : {WeightFormat::kBF16, WeightFormat::kFp8Block128, WeightFormat::kFp8Block32, WeightFormat::kMxfp4}) {
    INFO("format " << std::string(WeightFormatName(format)));
    const TestWeights w = MakeWeights(format, 70, 1056, rng);
    for (int64_t n : {1, 5}) {
      std::vector<float> x = RandomInput(WeightFormat::kF32, n, 1056, rng), rounded = x;
      for (auto& v : rounded) v = num::RoundBf16(v);
      REQUIRE(x != rounded);
      ForEachKernel([&] {
        std::vector<float> y(static_cast<size_t>(n * 70)), expected(y.size());
        stream->MatMul(w.matrix, x.data(), n, y.data());
        stream->MatMul(w.matrix, rounded.data(), n, expected.data());
        CHECK(y == expected);
      });
    }
  }
}

TEST_CASE("MatMul propagates NaN weight codes and NaN scales") {
  ThreadPool pool(2);
  const auto stream = Registry::Get().Cpu().CreateStream(pool);
  std::mt19937 rng(99);
  TestWeights fp8 = MakeWeights(WeightFormat::kFp8Block128, 300, 200, rng);
  fp8.data[5 * 200 + 3] = 0x7f;    // in the vector part of a row
  fp8.data[7 * 200 + 150] = 0xff;  // negative NaN
  fp8.data[9 * 200 + 197] = 0x7f;  // in the scalar tail (200 is not a multiple of 32)
  fp8.scales[2 * 2 + 1] = 0xff;    // rows 256..299, cols 128..199
  TestWeights fp4 = MakeWeights(WeightFormat::kMxfp4, 40, 96, rng);
  fp4.scales[11 * 3 + 2] = 0xff;  // row 11
  TestWeights fp8_32 = MakeWeights(WeightFormat::kFp8Block32, 100, 70, rng);
  fp8_32.data[5 * 70 + 40] = 0xff;  // row 5
  fp8_32.scales[2 * 3 + 1] = 0xff;  // rows 64..95, cols 32..63
  const auto nan_row = [&](const TestWeights* w, int64_t r) {
    if (w == &fp8) return r == 5 || r == 7 || r == 9 || r >= 256;
    if (w == &fp4) return r == 11;
    return r == 5 || (r >= 64 && r < 96);
  };
  for (const TestWeights* w : {&fp8, &fp4, &fp8_32}) {
    const int64_t rows = w->matrix.rows;
    for (int64_t n : {1, 3}) {
      CAPTURE(WeightFormatName(w->matrix.format));
      CAPTURE(n);
      const std::vector<float> x = RandomInput(w->matrix.format, n, w->matrix.cols, rng);
      ForEachKernel([&] {
        std::vector<float> y(static_cast<size_t>(n * rows));
        stream->MatMul(w->matrix, x.data(), n, y.data());
        for (int64_t i = 0; i < n; ++i) {
          for (int64_t r = 0; r < rows; ++r) {
            CAPTURE(r);
            CHECK(std::isnan(y[static_cast<size_t>(i * rows + r)]) == nan_row(w, r));
          }
        }
      });
    }
  }
}

#if defined(__x86_64__) || defined(__i386__)
// Some kernels decode FP8 codes into fp32 words that are subnormal for the subnormal codes: a
// host application built with -ffast-math runs with denormals-are-zero in MXCSR (inherited by
// threads it starts, such as the pool's), and those weights must not read as zero.
TEST_CASE("MatMul reads subnormal FP8 weights when the caller runs with denormals-are-zero") {
  constexpr unsigned kDaz = 0x40;
  struct RestoreCsr {
    unsigned saved = _mm_getcsr();
    ~RestoreCsr() { _mm_setcsr(saved); }
  } restore;
  _mm_setcsr(restore.saved | kDaz);
  ThreadPool pool(2);  // its threads start with the caller's MXCSR
  const auto stream = Registry::Get().Cpu().CreateStream(pool);
  std::mt19937 rng(5);
  for (WeightFormat format : {WeightFormat::kFp8Block128, WeightFormat::kFp8Block32}) {
    TestWeights w = MakeWeights(format, 70, 1056, rng);
    for (size_t k = 0; k < w.data.size(); ++k) {
      const uint8_t code = static_cast<uint8_t>((k % 7 + 1) | (k % 2 ? 0x80 : 0));  // exponent 0, mantissa 1..7
      w.data[k] = code;
      w.dense[k] = Fp8Value(format, 1056, w.scales, static_cast<int64_t>(k) / 1056, static_cast<int64_t>(k) % 1056, code);
    }
    for (int64_t n : {1, 12}) {
      CAPTURE(WeightFormatName(format));
      CAPTURE(n);
      const std::vector<float> x = RandomInput(format, n, 1056, rng);
      ForEachKernel([&] {
        std::vector<float> y(static_cast<size_t>(n * 70));
        stream->MatMul(w.matrix, x.data(), n, y.data());
        CHECK(WorstRelativeError(w, x, n, y) <= 1e-5);
        CHECK((_mm_getcsr() & kDaz) != 0);  // the caller's setting is back
      });
    }
  }
}
#endif

TEST_CASE("MatMul rejects invalid arguments and handles empty shapes") {
  ThreadPool pool(2);
  const auto stream = Registry::Get().Cpu().CreateStream(pool);
  std::mt19937 rng(7);
  TestWeights fp4 = MakeWeights(WeightFormat::kMxfp4, 4, 64, rng);
  std::vector<float> x(64 * 2, 1.0f), y(8, 0.0f);

  WeightMatrix bad = fp4.matrix;
  bad.cols = 48;  // not a multiple of 32
  CHECK_THROWS_AS(stream->MatMul(bad, x.data(), 1, y.data()), Error);
  bad = fp4.matrix;
  bad.scales = nullptr;
  CHECK_THROWS_AS(stream->MatMul(bad, x.data(), 1, y.data()), Error);
  bad = fp4.matrix;
  bad.data = nullptr;
  CHECK_THROWS_AS(stream->MatMul(bad, x.data(), 1, y.data()), Error);
  CHECK_THROWS_AS(stream->MatMul(fp4.matrix, x.data(), -1, y.data()), Error);
  CHECK_THROWS_AS(stream->MatMul(fp4.matrix, nullptr, 1, y.data()), Error);
  CHECK_THROWS_AS(stream->MatMul(fp4.matrix, x.data(), 1, x.data() + 60), Error);  // y overlaps x
  bad = fp4.matrix;
  bad.format = static_cast<WeightFormat>(200);
  CHECK_THROWS_AS(stream->MatMul(bad, x.data(), 1, y.data()), Error);

  stream->MatMul(fp4.matrix, x.data(), 0, nullptr);  // nothing to do
  WeightMatrix no_cols{WeightFormat::kF32, 4, 0, nullptr, nullptr};
  stream->MatMul(no_cols, x.data(), 2, y.data());
  for (float v : y) CHECK(v == 0.0f);
}

TEST_CASE("The registry lists the CPU device with its operators") {
  Registry& registry = Registry::Get();
  REQUIRE(!registry.devices().empty());
  CHECK(registry.Find("cpu") == &registry.Cpu());
  CHECK(registry.Find("no-such-device") == nullptr);
  const Device& cpu = registry.Cpu();
  CHECK(cpu.name() == "cpu");
  CHECK(cpu.kind() == DeviceKind::kCpu);
  for (WeightFormat f : {WeightFormat::kF32, WeightFormat::kBF16, WeightFormat::kFp8Block128,
                         WeightFormat::kMxfp4, WeightFormat::kFp8Block32}) {
    CHECK(cpu.SupportsOp(Op::kMatMul, f));
  }
  CHECK(cpu.SupportsOp(Op::kSparseAttention));
  CHECK(std::string(WeightFormatName(WeightFormat::kFp8Block128)) == "fp8_block128");
  CHECK(std::string(WeightFormatName(WeightFormat::kMxfp4)) == "mxfp4");
  CHECK(std::string(WeightFormatName(WeightFormat::kFp8Block32)) == "fp8_block32");
}

// Not an assertion: reports the decode (n = 1) bandwidth and a prefill rate for the lead.
TEST_CASE("MatMul FP8 4096 x 4096 throughput (report only)") {
  ThreadPool pool;
  const auto stream = Registry::Get().Cpu().CreateStream(pool);
  const int64_t rows = 4096, cols = 4096;
  std::vector<uint8_t> data(static_cast<size_t>(rows * cols)), scales(32 * 32, 127);
  std::mt19937 rng(5);
  for (auto& b : data) {
    do b = RandomByte(rng);
    while (num::E4m3IsNan(b));
  }
  const WeightMatrix w{WeightFormat::kFp8Block128, rows, cols, data.data(), scales.data()};
  const auto seconds_per_call = [&](int64_t n, int calls) {
    const std::vector<float> x = RandomInput(w.format, n, cols, rng);
    std::vector<float> y(static_cast<size_t>(n * rows));
    stream->MatMul(w, x.data(), n, y.data());  // warm-up
    const auto start = std::chrono::steady_clock::now();
    for (int k = 0; k < calls; ++k) stream->MatMul(w, x.data(), n, y.data());
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / calls;
  };
  const double decode = seconds_per_call(1, 30);
  const double prefill = seconds_per_call(64, 2);
  MESSAGE("FP8 4096x4096 on " << pool.num_threads() << " threads: n=1 " << decode * 1e3 << " ms, "
                              << (data.size() + scales.size()) / decode / 1e9
                              << " GB/s of weights; n=64 " << 2.0 * 64 * rows * cols / prefill / 1e9
                              << " GFLOP/s");
}

}  // namespace
}  // namespace deepseek::backend

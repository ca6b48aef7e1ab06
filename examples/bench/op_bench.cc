#include "op_bench.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/machine_probe.h"
#include "core/error.h"
#include "core/numerics.h"
#include "core/thread_pool.h"

namespace deepseek::bench {
namespace {

using Clock = std::chrono::steady_clock;

// The copies together span this much, far beyond the last-level cache, so that every call reads
// its matrix from DRAM as decode does.
constexpr uint64_t kStreamedBytes = uint64_t{512} << 20;

backend::WeightFormat ParseFormat(const std::string& name) {
  if (name == "mxfp4") return backend::WeightFormat::kMxfp4;
  if (name == "fp8") return backend::WeightFormat::kFp8Block128;
  if (name == "fp8_block32") return backend::WeightFormat::kFp8Block32;
  if (name == "bf16") return backend::WeightFormat::kBF16;
  Fail(StatusCode::kInvalidArgument, "--op: unknown format '" + name + "' (mxfp4, fp8, fp8_block32 or bf16)");
}

// One matrix's bytes, valid codes of its format: weights spread like a trained layer's, scales
// near 1 (e8m0 codes around 127; never the NaN code).
struct StoredMatrix {
  std::vector<uint8_t> data, scales;
};

StoredMatrix MakeMatrix(backend::WeightFormat format, int64_t rows, int64_t cols, std::mt19937& rng) {
  StoredMatrix m;
  std::uniform_int_distribution<int> byte(0, 255), scale(120, 130);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  switch (format) {
    case backend::WeightFormat::kBF16: {
      m.data.resize(static_cast<size_t>(rows * cols * 2));
      for (size_t i = 0; i < m.data.size(); i += 2) {
        const uint16_t v = num::FloatToBf16(normal(rng));
        m.data[i] = static_cast<uint8_t>(v & 0xff);
        m.data[i + 1] = static_cast<uint8_t>(v >> 8);
      }
      break;
    }
    case backend::WeightFormat::kFp8Block128:
    case backend::WeightFormat::kFp8Block32: {
      m.data.resize(static_cast<size_t>(rows * cols));
      for (uint8_t& b : m.data) {
        b = static_cast<uint8_t>(byte(rng));
        if ((b & 0x7f) == 0x7f) b &= 0xfe;  // e4m3fn's NaN codes
      }
      const int64_t block = format == backend::WeightFormat::kFp8Block32 ? 32 : 128;
      m.scales.resize(static_cast<size_t>(((rows + block - 1) / block) * ((cols + block - 1) / block)));
      break;
    }
    case backend::WeightFormat::kMxfp4:
      m.data.resize(static_cast<size_t>(rows * cols / 2));
      for (uint8_t& b : m.data) b = static_cast<uint8_t>(byte(rng));
      m.scales.resize(static_cast<size_t>(rows * (cols / 32)));
      break;
    case backend::WeightFormat::kF32:
      Fail(StatusCode::kInvalidArgument, "--op: fp32 weights are not benchmarked");
  }
  for (uint8_t& s : m.scales) s = static_cast<uint8_t>(scale(rng));
  return m;
}

}  // namespace

void RunOpBench(const OpBenchOptions& o, std::FILE* out) {
  const backend::WeightFormat format = ParseFormat(o.format);
  if (o.rows <= 0 || o.cols <= 0 || o.n <= 0) Fail(StatusCode::kInvalidArgument, "--op: rows, cols and n must be positive");
  ThreadPool pool(o.threads);
  const auto stream = backend::Registry::Get().Cpu().CreateStream(pool);

  // Copies of the matrix in memory of their own, called in turn (the caches hold addresses, not
  // contents: equal bytes elsewhere are read from DRAM again).
  std::mt19937 rng(1);
  const StoredMatrix first = MakeMatrix(format, o.rows, o.cols, rng);
  const uint64_t matrix_bytes = first.data.size() + first.scales.size();
  const size_t copies =
      o.cached ? 1 : static_cast<size_t>(std::max<uint64_t>(2, (kStreamedBytes + matrix_bytes - 1) / matrix_bytes));
  const std::vector<StoredMatrix> stored(copies, first);
  std::vector<backend::WeightMatrix> matrices;
  for (const StoredMatrix& m : stored) {
    matrices.push_back({format, o.rows, o.cols, m.data.data(), m.scales.empty() ? nullptr : m.scales.data()});
  }
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(o.n * o.cols)), y(static_cast<size_t>(o.n * o.rows));
  for (float& v : x) v = num::RoundBf16(normal(rng));

  std::fprintf(out, "op bench: %s W [%lld, %lld] x n = %lld, %zu copies of %.2f MB; %d threads, %s\n", o.format.c_str(),
               static_cast<long long>(o.rows), static_cast<long long>(o.cols), static_cast<long long>(o.n), copies,
               static_cast<double>(matrix_bytes) / 1e6, pool.num_threads(), backend::cpu::KernelTarget().c_str());
  const double bandwidth = backend::cpu::MeasureReadBandwidth(pool, uint64_t{1} << 30);
  const double peak = backend::cpu::MeasurePeakFma(pool);

  for (const backend::WeightMatrix& w : matrices) stream->MatMul(w, x.data(), o.n, y.data());  // warm-up
  int64_t calls = 0;
  const auto start = Clock::now();
  double seconds = 0;
  while (seconds < o.seconds || calls < static_cast<int64_t>(copies)) {
    stream->MatMul(matrices[static_cast<size_t>(calls) % copies], x.data(), o.n, y.data());
    ++calls;
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
  }
  const double gbs = static_cast<double>(calls) * static_cast<double>(matrix_bytes) / seconds / 1e9;
  const double gflops = 2.0 * static_cast<double>(calls * o.n * o.rows * o.cols) / seconds / 1e9;
  std::fprintf(out,
               "| measure | value |\n|---|---|\n| calls | %lld in %.2f s (%.3f ms each) |\n"
               "| weight read rate | %.1f GB/s |\n| measured read bandwidth | %.1f GB/s |\n| bandwidth fraction | %.3f |\n"
               "| rate | %.1f GFLOP/s |\n| measured peak FMA | %.1f GFLOP/s |\n| peak fraction | %.3f |\n",
               static_cast<long long>(calls), seconds, 1000 * seconds / static_cast<double>(calls), gbs, bandwidth,
               gbs / bandwidth, gflops, peak, gflops / peak);
  if (o.json) {
    std::printf("{\"op\": \"%s\", \"rows\": %lld, \"cols\": %lld, \"n\": %lld, \"ms_per_call\": %.6g, \"weight_gbs\": %.6g, "
                "\"bandwidth_gbs\": %.6g, \"bandwidth_fraction\": %.6g, \"gflops\": %.6g, \"peak_gflops\": %.6g, "
                "\"peak_fraction\": %.6g, \"threads\": %d, \"target\": \"%s\"}\n",
                o.format.c_str(), static_cast<long long>(o.rows), static_cast<long long>(o.cols), static_cast<long long>(o.n),
                1000 * seconds / static_cast<double>(calls), gbs, bandwidth, gbs / bandwidth, gflops, peak, gflops / peak,
                pool.num_threads(), backend::cpu::KernelTarget().c_str());
  }
}

}  // namespace deepseek::bench

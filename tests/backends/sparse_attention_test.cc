// CPU SparseAttention on every compiled Highway target against a double-precision reference of
// the formula in backends/backend.h (sink included, empty row lists give zeros).
#include <doctest/doctest.h>

#include "core/numerics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "backends/backend.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "support/hwy_targets.h"

namespace deepseek::backend {
namespace {

// out[i,h,:] = Σ_j bf16(e^{s_j − M}) kv_j / (Σ_j e^{s_j − M} + e^{sink[h] − M}), M = max_j s_j.
std::vector<double> Reference(const std::vector<float>& q, int64_t n, int heads, int dim,
                              const std::vector<std::vector<const float*>>& rows,
                              const std::vector<float>& sink, float scale) {
  std::vector<double> out(q.size(), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const auto& kv = rows[static_cast<size_t>(i)];
    if (kv.empty()) continue;
    for (int h = 0; h < heads; ++h) {
      const float* qv = q.data() + (i * heads + h) * dim;
      std::vector<double> s(kv.size());
      double max = -INFINITY;
      for (size_t j = 0; j < kv.size(); ++j) {
        double dot = 0.0;
        for (int d = 0; d < dim; ++d) dot += static_cast<double>(qv[d]) * kv[j][d];
        s[j] = scale * dot;
        max = std::max(max, s[j]);
      }
      double denominator = std::exp(sink[static_cast<size_t>(h)] - max);
      for (double& v : s) denominator += v = std::exp(v - max);
      double* o = out.data() + (i * heads + h) * dim;
      for (size_t j = 0; j < kv.size(); ++j) {
        const double p = num::RoundBf16(static_cast<float>(s[j]));
        for (int d = 0; d < dim; ++d) o[d] += p / denominator * kv[j][d];
      }
    }
  }
  return out;
}

TEST_CASE("SparseAttention matches the reference on every target") {
  ThreadPool pool(3);
  const auto stream = Registry::Get().Cpu().CreateStream(pool);
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const int heads = 3;
  // The sinks span "negligible" to "dominant" (e^{sink − M} far above every row's weight).
  const std::vector<float> sink = {-2.0f, 0.5f, 30.0f};
  for (int dim : {37, 64, 512}) {
    CAPTURE(dim);
    std::vector<float> pool_rows(static_cast<size_t>(60 * dim));
    for (auto& v : pool_rows) v = uniform(rng);
    const auto row = [&](int k) { return pool_rows.data() + k * dim; };
    // Query 1 attends to nothing; query 0 repeats a row; query 3 attends to many rows.
    std::vector<std::vector<const float*>> rows = {{row(3), row(7), row(7), row(10), row(0)}, {}, {row(5)}, {}};
    for (int k = 0; k < 50; ++k) rows[3].push_back(row(static_cast<int>(rng() % 60)));
    const int64_t n = static_cast<int64_t>(rows.size());
    std::vector<float> q(static_cast<size_t>(n * heads * dim));
    for (auto& v : q) v = 4.0f * uniform(rng);  // large enough for a peaked softmax
    const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
    const std::vector<double> expected = Reference(q, n, heads, dim, rows, sink, scale);
    testing::ForEachHwyTarget([&] {
      std::vector<float> out(q.size(), -7.0f);
      stream->SparseAttention(q.data(), n, heads, dim, rows, sink.data(), scale, out.data());
      double worst = 0.0;
      for (size_t k = 0; k < out.size(); ++k) worst = std::max(worst, std::fabs(out[k] - expected[k]));
      // Outputs are averages of values in [-1, 1]. A probability whose fp32 value sits on a bf16
      // rounding boundary may round either way between the kernel and this double-precision
      // reference: at most one bf16 step (2^-8 relative) of one weight.
      CHECK(worst <= 2e-6 + 0x1p-8);
      for (int64_t k = heads * dim; k < 2 * heads * dim; ++k) CHECK(out[static_cast<size_t>(k)] == 0.0f);
    });
  }
}

TEST_CASE("SparseAttention rejects inconsistent arguments") {
  ThreadPool pool(2);
  const auto stream = Registry::Get().Cpu().CreateStream(pool);
  std::vector<float> q(8, 0.0f), out(8), kv(4, 1.0f), sink(2, 0.0f);
  std::vector<std::vector<const float*>> rows = {{kv.data()}};
  CHECK_THROWS_AS(stream->SparseAttention(q.data(), 2, 2, 4, rows, sink.data(), 1.0f, out.data()), Error);
  CHECK_THROWS_AS(stream->SparseAttention(q.data(), 1, 0, 4, rows, sink.data(), 1.0f, out.data()), Error);
  CHECK_THROWS_AS(stream->SparseAttention(q.data(), 1, 2, 4, rows, nullptr, 1.0f, out.data()), Error);
  rows[0].push_back(nullptr);
  CHECK_THROWS_AS(stream->SparseAttention(q.data(), 1, 2, 4, rows, sink.data(), 1.0f, out.data()), Error);
  stream->SparseAttention(nullptr, 0, 2, 4, {}, nullptr, 1.0f, nullptr);  // no queries: nothing to do
}

}  // namespace
}  // namespace deepseek::backend

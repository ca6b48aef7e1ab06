// CPU SparseAttention on every compiled Highway target against a double-precision reference of
// the formula in backends/backend.h (sink included, empty row lists give zeros).
#include <doctest/doctest.h>

#include "core/numerics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <tuple>
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

// 60 candidate rows in the three places AttentionKv addresses: rows 0-19 fresh (fp32 in
// memory), 20-39 in a window pool and 40-59 in a compressed pool, both with 7 rows per page so
// lists cross pages. With `latent`, the pools pack rows as 584-byte latents (the rows are made
// FP8-representable first, so the reference sees exactly what the cache holds).
struct Candidates {
  std::shared_ptr<KvMemory> memory = Registry::Get().Cpu().CreateKvMemory({});
  std::vector<float> values;
  std::vector<KvPageId> window_pages, compressed_pages;
  AttentionKv kv;
  const float* row(int k) const { return values.data() + static_cast<size_t>(k) * dim; }
  int dim;

  Candidates(Stream& stream, int d, bool latent, std::mt19937& rng) : dim(d) {
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    values.resize(static_cast<size_t>(60 * dim));
    for (auto& v : values) v = uniform(rng);
    const KvRowLayout layout = latent ? KvRowLayout{KvRowFormat::kLatentFp8, dim, 64} : KvRowLayout{KvRowFormat::kF32, dim, 0};
    if (latent) {
      for (int k = 0; k < 60; ++k) {
        for (int b = 0; b < dim - 64; b += 64) num::FakeQuantFp8Block(values.data() + k * dim + b, 64);
        for (int i = dim - 64; i < dim; ++i) values[static_cast<size_t>(k * dim + i)] = num::RoundBf16(values[static_cast<size_t>(k * dim + i)]);
      }
    }
    const KvPoolId window = memory->AddPool({"window", layout, 7}), compressed = memory->AddPool({"compressed", layout, 7});
    for (int p = 0; p < 3; ++p) {
      window_pages.push_back(memory->Allocate(window));
      compressed_pages.push_back(memory->Allocate(compressed));
    }
    kv = {values.data(), 20, {memory.get(), window, window_pages, 20}, {memory.get(), compressed, compressed_pages, 20}};
    stream.KvWrite(kv.window, 0, 20, row(20));
    stream.KvWrite(kv.compressed, 0, 20, row(40));
  }
};

TEST_CASE("SparseAttention matches the reference on every target") {
  ThreadPool pool(3);
  const auto stream = Registry::Get().Cpu().CreateStream(pool);
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  // The sinks span "negligible" to "dominant" (e^{sink − M} far above every row's weight).
  const std::vector<float> sinks = {-2.0f, 0.5f, 30.0f, 1.0f, -1.0f, 0.0f, 3.0f, -4.0f, 2.0f};
  // 3 heads, and 9: two register blocks of 4 heads in the many-rows path, then one more.
  for (auto [dim, latent, heads] : {std::tuple{37, false, 3}, std::tuple{64, false, 9}, std::tuple{512, false, 3},
                                    std::tuple{512, true, 9}, std::tuple{72, false, 9}}) {
    CAPTURE(dim);
    CAPTURE(latent);
    CAPTURE(heads);
    const std::vector<float> sink(sinks.begin(), sinks.begin() + heads);
    const Candidates c(*stream, dim, latent, rng);
    // Query 1 attends to nothing; query 0 repeats a row; query 3 attends to many rows, and
    // query 4 to more than 2048 (an HCA layer deep in a context: rows streamed once per pass).
    std::vector<std::vector<int32_t>> lists = {{3, 27, 27, 50, 0}, {}, {45}, {}, {}};
    for (int k = 0; k < 50; ++k) lists[3].push_back(static_cast<int32_t>(rng() % 60));
    for (int k = 0; k < 2100; ++k) lists[4].push_back(static_cast<int32_t>(rng() % 60));
    std::vector<std::vector<const float*>> rows;
    std::vector<int64_t> offsets{0};
    std::vector<int32_t> indices;
    for (const auto& list : lists) {
      rows.emplace_back();
      for (int32_t k : list) rows.back().push_back(c.row(k));
      indices.insert(indices.end(), list.begin(), list.end());
      offsets.push_back(static_cast<int64_t>(indices.size()));
    }
    const int64_t n = static_cast<int64_t>(rows.size());
    std::vector<float> q(static_cast<size_t>(n * heads * dim));
    for (auto& v : q) v = 4.0f * uniform(rng);  // large enough for a peaked softmax
    const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
    const std::vector<double> expected = Reference(q, n, heads, dim, rows, sink, scale);
    testing::ForEachHwyTarget([&] {
      std::vector<float> out(q.size(), -7.0f);
      stream->SparseAttention(q.data(), n, heads, dim, c.kv, offsets, indices, sink.data(), scale, out.data());
      double worst = 0.0;
      for (size_t k = 0; k < out.size(); ++k) worst = std::max(worst, std::fabs(out[k] - expected[k]));
      // Outputs are averages of values in [-1, 1]. A probability whose fp32 value sits on a bf16
      // rounding boundary may round either way between the kernel and this double-precision
      // reference: at most one bf16 step (2^-8 relative) of one weight.
      CHECK(worst <= 2e-6 + 0x1p-8);
      for (int64_t k = heads * dim; k < 2 * heads * dim; ++k) CHECK(out[static_cast<size_t>(k)] == 0.0f);
      // Any thread count gives the same bits.
      ThreadPool one(1);
      const auto single = Registry::Get().Cpu().CreateStream(one);
      std::vector<float> again(q.size(), -7.0f);
      single->SparseAttention(q.data(), n, heads, dim, c.kv, offsets, indices, sink.data(), scale, again.data());
      CHECK(std::memcmp(again.data(), out.data(), out.size() * sizeof(float)) == 0);
    });
  }
}

TEST_CASE("SparseAttention rejects inconsistent arguments") {
  ThreadPool pool(2);
  const auto stream = Registry::Get().Cpu().CreateStream(pool);
  std::vector<float> q(8, 0.0f), out(8), kv_row(4, 1.0f), sink(2, 0.0f);
  const AttentionKv kv{kv_row.data(), 1, {}, {}};
  const std::vector<int64_t> offsets{0, 1};
  const std::vector<int32_t> indices{0}, outside{1};
  CHECK_THROWS_AS(stream->SparseAttention(q.data(), 2, 2, 4, kv, offsets, indices, sink.data(), 1.0f, out.data()), Error);
  CHECK_THROWS_AS(stream->SparseAttention(q.data(), 1, 0, 4, kv, offsets, indices, sink.data(), 1.0f, out.data()), Error);
  CHECK_THROWS_AS(stream->SparseAttention(q.data(), 1, 2, 4, kv, offsets, indices, nullptr, 1.0f, out.data()), Error);
  CHECK_THROWS_AS(stream->SparseAttention(q.data(), 1, 2, 4, kv, offsets, outside, sink.data(), 1.0f, out.data()), Error);
  CHECK_THROWS_AS(stream->SparseAttention(q.data(), 1, 2, 4, kv, std::vector<int64_t>{0, 2}, indices, sink.data(), 1.0f,
                                          out.data()),
                  Error);
  const std::vector<int64_t> none{0};
  stream->SparseAttention(nullptr, 0, 2, 4, kv, none, {}, nullptr, 1.0f, nullptr);  // no queries: nothing to do
}

}  // namespace
}  // namespace deepseek::backend

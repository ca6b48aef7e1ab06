// The CPU IndexerScores on every compiled Highway target against a scalar reading of its
// contract in backends/backend.h, bit for bit: FP4 queries and MXFP4 keys over several pages,
// visible counts that end inside a vector of keys, and rows beyond them left untouched.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backends/backend.h"
#include "core/error.h"
#include "core/numerics.h"
#include "core/thread_pool.h"
#include "support/hwy_targets.h"

namespace deepseek::backend {
namespace {

// Values on the FP4 grid per block of 32 (as the indexer's queries and keys are), with block
// magnitudes over many octaves so the block scales differ.
std::vector<float> Fp4Rows(int64_t rows, int dim, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> octave(-6, 6);
  std::vector<float> v(static_cast<size_t>(rows * dim));
  for (int64_t b = 0; b < rows * dim; b += 32) {
    const float m = std::ldexp(1.0f, octave(rng));
    for (int i = 0; i < 32; ++i) v[static_cast<size_t>(b + i)] = m * normal(rng);
    num::FakeQuantFp4Block(v.data() + b, 32);
  }
  return v;
}

// The contract, literally: exact block sums (in double, where they are exact), blocks then
// heads added in ascending order in fp32, with the bf16 roundings.
float ReferenceScore(const float* q, const float* w, const float* key, int heads, int dim) {
  float total = 0;
  for (int h = 0; h < heads; ++h) {
    float dot = 0;
    for (int blk = 0; blk < dim; blk += 32) {
      double block = 0;
      for (int d = blk; d < blk + 32; ++d) block += static_cast<double>(q[h * dim + d]) * key[d];
      dot += static_cast<float>(block);
    }
    total += num::RoundBf16(std::fmax(num::RoundBf16(dot), 0.0f) * w[h]);
  }
  return num::RoundBf16(total);
}

// heads: 5 fill part of a vector of heads on every target; 64 (V4-Flash's) several.
void CheckContract(const int kHeads) {
  ThreadPool pool(3);
  const auto stream = Registry::Get().Cpu().CreateStream(pool);
  auto memory = Registry::Get().Cpu().CreateKvMemory({});
  constexpr int kDim = 128;
  const KvPoolId id = memory->AddPool({"index_keys", {KvRowFormat::kMxfp4, kDim, 0}, 64});
  std::mt19937 rng(11);
  constexpr int64_t kKeys = 300;  // five pages, the last partly filled
  const std::vector<float> keys = Fp4Rows(kKeys, kDim, rng);
  std::vector<KvPageId> pages;
  for (int p = 0; p < 5; ++p) pages.push_back(memory->Allocate(id));
  const KvRows table{memory.get(), id, pages, kKeys};
  stream->KvWrite(table, 0, kKeys, keys.data());

  const std::vector<int64_t> visible = {0, 1, 7, 17, 64, 65, 299, 300};
  const int64_t n = static_cast<int64_t>(visible.size());
  const std::vector<float> q = Fp4Rows(n * kHeads, kDim, rng);
  std::vector<float> w(static_cast<size_t>(n * kHeads));
  std::uniform_real_distribution<float> uniform(-0.2f, 0.3f);
  for (float& v : w) v = num::RoundBf16(uniform(rng));
  const int64_t stride = 310;
  std::vector<float> expected(static_cast<size_t>(n * stride), -42.0f);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t b = 0; b < visible[static_cast<size_t>(i)]; ++b) {
      expected[static_cast<size_t>(i * stride + b)] =
          ReferenceScore(q.data() + i * kHeads * kDim, w.data() + i * kHeads, keys.data() + b * kDim, kHeads, kDim);
    }
  }
  testing::ForEachHwyTarget([&] {
    std::vector<float> got(expected.size(), -42.0f);
    stream->IndexerScores(q.data(), w.data(), n, kHeads, table, visible, got.data(), stride);
    int64_t differ = 0;
    for (size_t k = 0; k < got.size(); ++k) differ += std::memcmp(&got[k], &expected[k], sizeof(float)) != 0;
    CHECK(differ == 0);
  });
  // The same query alone gives the same scores as in a batch (each key's sum is the same).
  std::vector<float> alone(static_cast<size_t>(stride), -42.0f);
  stream->IndexerScores(q.data() + 6 * kHeads * kDim, w.data() + 6 * kHeads, 1, kHeads, table,
                        std::vector<int64_t>{299}, alone.data(), stride);
  CHECK(std::memcmp(alone.data(), expected.data() + 6 * stride, 299 * sizeof(float)) == 0);

  // Bad arguments are refused.
  CHECK_THROWS_AS(stream->IndexerScores(q.data(), w.data(), 1, kHeads, table, std::vector<int64_t>{301}, alone.data(), 400),
                  Error);
  CHECK_THROWS_AS(stream->IndexerScores(q.data(), w.data(), 1, kHeads, table, std::vector<int64_t>{300}, alone.data(), 200),
                  Error);
  CHECK_THROWS_AS(stream->IndexerScores(q.data(), w.data(), 2, kHeads, table, std::vector<int64_t>{3}, alone.data(), 310),
                  Error);
  const KvPoolId latents = memory->AddPool({"latents", {KvRowFormat::kLatentFp8, 512, 64}, 8});
  const std::vector<KvPageId> latent_page{memory->Allocate(latents)};
  CHECK_THROWS_AS(stream->IndexerScores(q.data(), w.data(), 1, kHeads, {memory.get(), latents, latent_page, 1},
                                        std::vector<int64_t>{1}, alone.data(), 310),
                  Error);
  memory->Release(latents, latent_page[0]);
  // Queries off the FP4 grid are refused (the exact integer sums need it).
  std::vector<float> off_grid(q.begin(), q.begin() + kHeads * kDim);
  off_grid[3] = off_grid[3] == 0 ? 1e-3f : off_grid[3] * 1.01f;
  CHECK_THROWS_AS(stream->IndexerScores(off_grid.data(), w.data(), 1, kHeads, table, std::vector<int64_t>{3}, alone.data(), 310),
                  Error);
  for (KvPageId p : pages) memory->Release(id, p);
}

TEST_CASE("IndexerScores matches its contract on every target") {
  for (int heads : {5, 64}) {
    CAPTURE(heads);
    CheckContract(heads);
  }
}

}  // namespace
}  // namespace deepseek::backend

#include "model/mhc.h"

#include <algorithm>
#include <cmath>

#include "core/numerics.h"
#include "ops/ops.h"

namespace deepseek::model {
namespace {

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// m = (W · x) · ρ with ρ = (mean(x²) + eps)^−1/2 over the flattened streams of each token, for
// the tokens [r0, r1) of m (W · x already in it). Each ρ is one sequential sum, so its tokens
// are what the threads share (ForRows).
void NormaliseMixes(const WeightMatrix& fn, const float* streams, int64_t r0, int64_t r1, float eps, float* m) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* x = streams + r * fn.cols;
    float ss = 0;
    for (int64_t i = 0; i < fn.cols; ++i) ss += x[i] * x[i];
    const float rho = 1.0f / std::sqrt(ss / static_cast<float>(fn.cols) + eps);
    for (int64_t j = 0; j < fn.rows; ++j) m[r * fn.rows + j] *= rho;
  }
}

std::vector<float> NormalisedMixes(backend::Stream& stream, const WeightMatrix& fn, const float* streams,
                                   int64_t rows, float eps) {
  std::vector<float> m(static_cast<size_t>(rows * fn.rows));
  ops::MatMulF32(stream, fn, streams, rows, m.data());
  NormaliseMixes(fn, streams, 0, rows, eps, m.data());
  return m;
}

// u = bf16(Σ_i pre_i · X_i) for one token, i ascending from 0 for every d (u holds the running
// sums, so that the loops over d vectorise).
void Collapse(const float* x, const float* pre, int n, int64_t dim, float* u) {
  std::fill(u, u + dim, 0.0f);
  for (int i = 0; i < n; ++i) {
    for (int64_t d = 0; d < dim; ++d) u[d] += pre[i] * x[i * dim + d];
  }
  for (int64_t d = 0; d < dim; ++d) u[d] = num::RoundBf16(u[d]);
}

}  // namespace

void Sinkhorn(float* c, int n, int iters, float eps) {
  const auto normalise_columns = [&] {
    for (int k = 0; k < n; ++k) {
      float sum = 0;
      for (int j = 0; j < n; ++j) sum += c[j * n + k];
      for (int j = 0; j < n; ++j) c[j * n + k] /= sum + eps;
    }
  };
  for (int j = 0; j < n; ++j) {  // row softmax, then + eps
    float* row = c + j * n;
    float mx = row[0];
    for (int k = 1; k < n; ++k) mx = std::fmax(mx, row[k]);
    float sum = 0;
    for (int k = 0; k < n; ++k) sum += (row[k] = std::exp(row[k] - mx));
    for (int k = 0; k < n; ++k) row[k] = row[k] / sum + eps;
  }
  normalise_columns();
  for (int it = 1; it < iters; ++it) {
    for (int j = 0; j < n; ++j) {
      float* row = c + j * n;
      float sum = 0;
      for (int k = 0; k < n; ++k) sum += row[k];
      for (int k = 0; k < n; ++k) row[k] /= sum + eps;
    }
    normalise_columns();
  }
}

MhcMix MhcMixes(const ChunkContext& ctx, const MhcWeights& w, const float* streams) {
  const ModelConfig& c = ctx.config;
  const int n = c.hc_mult;
  const int64_t S = ctx.size(), width = (2 + n) * n;
  std::vector<float> m(static_cast<size_t>(S * w.fn.rows));
  ops::MatMulF32(ctx.stream, w.fn, streams, S, m.data());
  ForRows(ctx, S, w.fn.cols, [&](int64_t t0, int64_t t1) {
    NormaliseMixes(w.fn, streams, t0, t1, static_cast<float>(c.norm_eps), m.data());
  });
  const float s0 = w.scale[0], s1 = w.scale[1], s2 = w.scale[2];
  const float eps = static_cast<float>(c.hc_eps);
  MhcMix mix;
  mix.n = n;
  mix.pre.resize(static_cast<size_t>(S * n));
  mix.post.resize(static_cast<size_t>(S * n));
  mix.comb.resize(static_cast<size_t>(S * n * n));
  for (int64_t t = 0; t < S; ++t) {
    const float* mt = m.data() + t * width;
    float* pre = mix.pre.data() + t * n;
    float* post = mix.post.data() + t * n;
    float* comb = mix.comb.data() + t * n * n;
    for (int i = 0; i < n; ++i) {
      pre[i] = Sigmoid(mt[i] * s0 + w.base[i]) + eps;
      post[i] = 2.0f * Sigmoid(mt[n + i] * s1 + w.base[n + i]);
    }
    for (int i = 0; i < n * n; ++i) comb[i] = mt[2 * n + i] * s2 + w.base[2 * n + i];
    Sinkhorn(comb, n, c.hc_sinkhorn_iters, eps);
  }
  return mix;
}

void MhcCollapse(const ChunkContext& ctx, const std::vector<float>& pre, const float* streams, float* u) {
  const int n = ctx.config.hc_mult;
  const int64_t D = ctx.config.dim;
  ForRows(ctx, ctx.size(), n * D, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) Collapse(streams + t * n * D, pre.data() + t * n, n, D, u + t * D);
  });
}

MhcMix MhcPre(const ChunkContext& ctx, const MhcWeights& w, const float* streams, float* u) {
  MhcMix mix = MhcMixes(ctx, w, streams);
  MhcCollapse(ctx, mix.pre, streams, u);
  return mix;
}

void MhcPost(const ChunkContext& ctx, const MhcMix& mix, const float* f, float* streams) {
  const int n = mix.n;
  const int64_t D = ctx.config.dim;
  ForRows(ctx, ctx.size(), n * D, [&](int64_t t0, int64_t t1) {
    std::vector<float> old(static_cast<size_t>(n * D)), acc(static_cast<size_t>(D));
    for (int64_t t = t0; t < t1; ++t) {
      float* x = streams + t * n * D;
      std::copy(x, x + n * D, old.begin());
      const float* post = mix.post.data() + t * n;
      const float* comb = mix.comb.data() + t * n * n;
      for (int k = 0; k < n; ++k) {
        // acc[d] = Σ_j comb[j][k] · old_j[d], j ascending from 0 as one sum per d would go;
        // the loops over d vectorise.
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int j = 0; j < n; ++j) {
          const float c = comb[j * n + k];
          const float* o = old.data() + j * D;
          for (int64_t d = 0; d < D; ++d) acc[static_cast<size_t>(d)] += c * o[d];
        }
        for (int64_t d = 0; d < D; ++d) x[k * D + d] = num::RoundBf16(post[k] * f[t * D + d] + acc[static_cast<size_t>(d)]);
      }
    }
  });
}

void MhcHead(backend::Stream& stream, const ModelConfig& c, const MhcHeadWeights& w, const float* streams,
             int64_t rows, float* u) {
  const int n = c.hc_mult;
  const std::vector<float> m = NormalisedMixes(stream, w.fn, streams, rows, static_cast<float>(c.norm_eps));
  const float eps = static_cast<float>(c.hc_eps);
  std::vector<float> pre(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r) {
    for (int i = 0; i < n; ++i) pre[static_cast<size_t>(i)] = Sigmoid(m[static_cast<size_t>(r * n + i)] * w.scale[0] + w.base[i]) + eps;
    Collapse(streams + r * n * c.dim, pre.data(), n, c.dim, u + r * c.dim);
  }
}

}  // namespace deepseek::model

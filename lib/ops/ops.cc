#include "ops/ops.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/numerics.h"

namespace deepseek::ops {

using num::RoundBf16;

void MatMulF32(Stream& s, const WeightMatrix& w, const float* x, int64_t n, float* y) { s.MatMul(w, x, n, y); }

void Linear(Stream& s, const WeightMatrix& w, const float* x, int64_t n, float* y) {
  s.MatMul(w, x, n, y);
  RoundToBf16(y, n * w.rows);
}

void RoundToBf16(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = RoundBf16(x[i]);
}

void RmsNorm(const float* x, int64_t rows, int64_t dim, const float* weight, float eps, float* y) {
  num::RmsNormRows(x, rows, dim, weight, eps, y);
}

void RmsNormNoWeightBf16(float* x, int64_t rows, int64_t dim, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * dim;
    float ss = 0;
    for (int64_t i = 0; i < dim; ++i) ss += RoundBf16(xr[i] * xr[i]);
    const float mean = RoundBf16(ss / static_cast<float>(dim));
    const float inv = RoundBf16(1.0f / std::sqrt(RoundBf16(mean + eps)));
    for (int64_t i = 0; i < dim; ++i) xr[i] = RoundBf16(xr[i] * inv);
  }
}

void Rope(float* x, int64_t rows, int64_t stride, int64_t first, int rope_dim, std::span<const float> freqs,
          std::span<const int64_t> positions, int64_t rows_per_position, bool inverse) {
  const int half = rope_dim / 2;
  std::vector<float> cos_t(static_cast<size_t>(half)), sin_t(static_cast<size_t>(half));
  int64_t cached_pos = -1;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t pos = positions[static_cast<size_t>(r / rows_per_position)];
    if (pos != cached_pos) {
      for (int k = 0; k < half; ++k) {
        const float angle = static_cast<float>(pos) * freqs[static_cast<size_t>(k)];
        cos_t[static_cast<size_t>(k)] = std::cos(angle);
        sin_t[static_cast<size_t>(k)] = inverse ? -std::sin(angle) : std::sin(angle);
      }
      cached_pos = pos;
    }
    float* v = x + r * stride + first;
    for (int k = 0; k < half; ++k) {
      const float a = v[2 * k], b = v[2 * k + 1];
      const float c = cos_t[static_cast<size_t>(k)], s = sin_t[static_cast<size_t>(k)];
      v[2 * k] = RoundBf16(a * c - b * s);
      v[2 * k + 1] = RoundBf16(a * s + b * c);
    }
  }
}

void FakeQuantFp8(float* x, int64_t rows, int64_t stride, int64_t width, int block) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < width; b += block) {
      float* v = x + r * stride + b;
      num::FakeQuantFp8Block(v, block);
      for (int i = 0; i < block; ++i) v[i] = RoundBf16(v[i]);
    }
  }
}

void FakeQuantFp4(float* x, int64_t rows, int64_t dim, int block) {
  for (int64_t i = 0; i < rows * dim; i += block) {
    num::FakeQuantFp4Block(x + i, block);
    for (int j = 0; j < block; ++j) x[i + j] = RoundBf16(x[i + j]);
  }
}

void FakeQuantNvfp4(float* x, int64_t rows, int64_t dim) {
  for (int64_t i = 0; i < rows * dim; i += 16) {
    num::FakeQuantNvfp4Block(x + i, 16);
    for (int j = 0; j < 16; ++j) x[i + j] = RoundBf16(x[i + j]);
  }
}

void Hadamard(float* x, int64_t rows, int64_t dim) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
  for (int64_t r = 0; r < rows; ++r) {
    float* v = x + r * dim;
    for (int64_t h = 1; h < dim; h *= 2) {  // butterflies in Sylvester order
      for (int64_t i = 0; i < dim; i += 2 * h) {
        for (int64_t j = i; j < i + h; ++j) {
          const float a = v[j], b = v[j + h];
          v[j] = a + b;
          v[j + h] = a - b;
        }
      }
    }
    for (int64_t i = 0; i < dim; ++i) v[i] = RoundBf16(v[i] * scale);
  }
}

void MoeLayer(Stream& s, const backend::MoeLayerDesc& layer, const float* x, int64_t S, int64_t D,
              std::span<const int32_t> tokens, std::span<const int32_t> imposed, std::span<int32_t> experts,
              std::span<float> weights, float* out) {
  s.MoeLayer(layer, x, S, D, tokens, imposed, experts, weights, out);
}

void SparseAttention(Stream& s, const float* q, int64_t n, int heads, int dim, const backend::AttentionKv& kv,
                     std::span<const int64_t> offsets, std::span<const int32_t> indices, const float* sink,
                     float scale, float* out) {
  s.SparseAttention(q, n, heads, dim, kv, offsets, indices, sink, scale, out);
  RoundToBf16(out, n * heads * dim);
}

}  // namespace deepseek::ops

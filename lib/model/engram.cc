#include "model/engram.h"

#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/numerics.h"

namespace deepseek::model {
namespace {

// The reference's floor under |dot| before the signed square root.
constexpr float kGateFloor = 1e-6f;

// e [n, cols · head_dim]: each token's rows, e4m3 × their per-32 scale, as bf16 values.
std::vector<float> GatherRows(const EngramWeights& w, std::span<const int64_t> row_ids, int64_t n, int64_t cols, uint64_t& bytes) {
  const int64_t hd = w.head_dim;
  std::vector<float> e(static_cast<size_t>(n * cols * hd));
  for (int64_t i = 0; i < n * cols; ++i) {
    const int64_t row = row_ids[static_cast<size_t>(i)];
    if (row < 0 || row >= w.rows) {
      Fail(StatusCode::kInvalidArgument, "Engram: table row " + std::to_string(row) + " outside [0, " + std::to_string(w.rows) + ")");
    }
    const uint8_t* codes = w.table + row * hd;
    const uint8_t* scales = w.table_scales + row * (hd / 32);
    for (int64_t b = 0; b < hd / 32; ++b) {
      if (num::E8m0IsNan(scales[b])) {
        Fail(StatusCode::kCorruptFile, "tensor 'layers." + std::to_string(w.layer) + ".engram.embed.scale': NaN scale code 0xff in row " +
                                           std::to_string(row));
      }
    }
    float* out = e.data() + i * hd;
    for (int64_t d = 0; d < hd; ++d) out[d] = num::RoundBf16(num::E4m3ToFloat(codes[d]) * num::E8m0ToFloat(scales[d / 32]));
    bytes += static_cast<uint64_t>(hd + hd / 32);
  }
  return e;
}

float MeanSquare(const float* v, int64_t n) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += v[i] * v[i];
  return s / static_cast<float>(n);
}

}  // namespace

uint64_t ApplyEngram(backend::Stream& stream, const EngramWeights& w, const ModelConfig& c, std::span<const int64_t> row_ids,
                     std::span<const uint8_t> in_image, int64_t n, float* streams) {
  const int64_t cols = int64_t{c.engram.max_ngram - 1} * c.engram.heads, D = c.dim, hc = c.hc_mult;
  if (static_cast<int64_t>(row_ids.size()) != n * cols || static_cast<int64_t>(in_image.size()) != n) {
    Fail(StatusCode::kInvalidArgument, "Engram: " + std::to_string(row_ids.size()) + " row ids and " + std::to_string(in_image.size()) +
                                           " token flags for " + std::to_string(n) + " tokens");
  }
  uint64_t bytes = 0;
  const std::vector<float> e = GatherRows(w, row_ids, n, cols, bytes);
  // kv [n, (hc + 1)·D] = bf16(e · wkvᵀ): a key per stream, then the value.
  std::vector<float> kv(static_cast<size_t>(n * (hc + 1) * D));
  stream.MatMul(w.wkv, e.data(), n, kv.data());
  for (float& v : kv) v = num::RoundBf16(v);
  std::vector<float> weight(static_cast<size_t>(hc * D));
  for (int64_t i = 0; i < hc * D; ++i) weight[static_cast<size_t>(i)] = w.q_weight[i] * w.k_weight[i];
  const float inv_sqrt_d = 1.0f / std::sqrt(static_cast<float>(D));
  for (int64_t t = 0; t < n; ++t) {
    if (in_image[static_cast<size_t>(t)]) continue;  // gate 0: h + 0 · value = h
    const float* value = kv.data() + (t * (hc + 1) + hc) * D;
    for (int64_t j = 0; j < hc; ++j) {
      float* h = streams + (t * hc + j) * D;
      const float* key = kv.data() + (t * (hc + 1) + j) * D;
      const float* wj = weight.data() + j * D;
      // Normalised per stream over D, not jointly over the streams.
      const float rstd = (1.0f / std::sqrt(MeanSquare(h, D) + static_cast<float>(c.norm_eps))) *
                         (1.0f / std::sqrt(MeanSquare(key, D) + static_cast<float>(c.norm_eps)));
      float dot = 0;
      for (int64_t d = 0; d < D; ++d) dot += h[d] * wj[d] * key[d];
      dot = dot * rstd * inv_sqrt_d;
      const float root = std::copysign(std::sqrt(std::fmax(std::fabs(dot), kGateFloor)), dot);
      const float gate = 1.0f / (1.0f + std::exp(-root));
      for (int64_t d = 0; d < D; ++d) h[d] = num::RoundBf16(h[d] + gate * value[d]);
    }
  }
  return bytes;
}

void PrefetchEngramRows(const EngramWeights& w, std::span<const int64_t> row_ids) {
  const int64_t hd = w.head_dim;
  for (int64_t row : row_ids) {
    if (row < 0 || row >= w.rows) continue;  // ApplyEngram refuses it
    AdviseMapped(w.table + row * hd, static_cast<size_t>(hd), MappedAccess::kWillNeed);
    AdviseMapped(w.table_scales + row * (hd / 32), static_cast<size_t>(hd / 32), MappedAccess::kWillNeed);
  }
}

}  // namespace deepseek::model

#include "backends/cpu/vision_encoder.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/matmul.h"
#include "backends/cpu/vision_attention.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "core/numerics.h"

namespace deepseek::backend::cpu {
namespace {

using Rows = std::vector<float>;

// fn(i) for i in [0, n), split over the stream's threads (every i is independent, so the results
// do not depend on the split).
template <typename Fn>
void ForRows(Stream& s, int64_t n, Fn&& fn) {
  StreamPool(s).ParallelFor(n, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) fn(i);
  });
}

// y [n, w.rows] = bf16(x · Wᵀ + bias): a bf16 linear layer (bias may be empty).
Rows Linear(Stream& s, const WeightMatrix& w, const std::vector<float>& bias, const Rows& x, int64_t n) {
  Rows y(static_cast<size_t>(n * w.rows));
  s.MatMul(w, x.data(), n, y.data());
  ForRows(s, n, [&](int64_t i) {
    for (int64_t r = 0; r < w.rows; ++r) {
      float& v = y[static_cast<size_t>(i * w.rows + r)];
      v = num::RoundBf16(bias.empty() ? v : v + bias[static_cast<size_t>(r)]);
    }
  });
  return y;
}

// The reference's RMSNorm of each row (num::RmsNormRows).
Rows RmsNorm(const Rows& x, int64_t n, const std::vector<float>& weight, float eps) {
  Rows y(x.size());
  num::RmsNormRows(x.data(), n, static_cast<int64_t>(weight.size()), weight.data(), eps, y.data());
  return y;
}

// The 2D RoPE angles of each patch: [row · f (half), column · f (half)], f = θ^(−2k/rope_dim).
struct Rope {
  std::vector<float> cos, sin;  // [n, rope_dim]
  int64_t dim = 0;
};

Rope MakeRope(const EncoderGrid& g, int64_t head_dim, double theta) {
  Rope r;
  r.dim = head_dim / 2;
  const int64_t freqs = r.dim / 2;
  std::vector<float> inv(static_cast<size_t>(freqs));
  for (int64_t k = 0; k < freqs; ++k) {
    inv[static_cast<size_t>(k)] = 1.0f / std::pow(static_cast<float>(theta), static_cast<float>(2 * k) / static_cast<float>(r.dim));
  }
  for (int64_t i = 0; i < g.h; ++i) {
    for (int64_t j = 0; j < g.w; ++j) {
      for (int64_t part = 0; part < 2; ++part) {
        for (int64_t k = 0; k < freqs; ++k) {
          const float angle = static_cast<float>(part == 0 ? i : j) * inv[static_cast<size_t>(k)];
          r.cos.push_back(std::cos(angle));
          r.sin.push_back(std::sin(angle));
        }
      }
    }
  }
  return r;
}

// x = [a, b] over a head → bf16([a·cos − b·sin, b·cos + a·sin]).
void Rotate(float* x, const float* cos, const float* sin, int64_t half) {
  for (int64_t k = 0; k < half; ++k) {
    const float a = x[k], b = x[k + half];
    x[k] = num::RoundBf16(a * cos[k] - b * sin[k]);
    x[k + half] = num::RoundBf16(b * cos[k] + a * sin[k]);
  }
}

// Bidirectional attention of the n patches per head (AttendVisionHead), the keys and values
// of every head laid out for it first; units of one kernel tile of queries of one head split
// over the threads.
Rows Attend(Stream& s, const Rows& qkv, int64_t n, int64_t dim, int64_t heads) {
  const int64_t hd = dim / heads, n_pad = PadForVisionAttention(n), hd_pad = PadForVisionAttention(hd);
  Rows kt(static_cast<size_t>(heads * hd * n_pad), 0.0f), v(static_cast<size_t>(heads * n_pad * hd_pad), 0.0f);
  ForRows(s, heads, [&](int64_t h) {
    for (int64_t i = 0; i < n; ++i) {
      const float* row = qkv.data() + i * 3 * dim + h * hd;
      for (int64_t d = 0; d < hd; ++d) {
        kt[static_cast<size_t>((h * hd + d) * n_pad + i)] = row[dim + d];
        v[static_cast<size_t>((h * n_pad + i) * hd_pad + d)] = row[2 * dim + d];
      }
    }
  });
  const int64_t units_per_head = CeilDiv(n, kVisionAttentionTileQueries);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  Rows out(static_cast<size_t>(n * dim));
  ForRows(s, heads * units_per_head, [&](int64_t u) {
    const int64_t h = u / units_per_head, first = u % units_per_head * kVisionAttentionTileQueries;
    const int64_t end = std::min(n, first + kVisionAttentionTileQueries);
    AttendVisionHead(qkv.data() + h * hd, 3 * dim, kt.data() + h * hd * n_pad, v.data() + h * n_pad * hd_pad, n, hd, scale, first,
                     end, out.data() + first * dim + h * hd, dim);
  });
  return out;
}

void AddInto(Rows& x, const Rows& y) {
  for (size_t i = 0; i < x.size(); ++i) x[i] = num::RoundBf16(x[i] + y[i]);
}

// x + attn(norm1(x)), then + mlp(norm2(x)).
void Block(Stream& s, const VisionEncoderDesc& d, const VisionEncoderDesc::Block& b, const Rope& rope, Rows& x, int64_t n) {
  Rows qkv = Linear(s, b.wqkv, b.wqkv_bias, RmsNorm(x, n, b.norm1, d.norm_eps), n);
  const int64_t hd = d.dim / d.heads;
  ForRows(s, n, [&](int64_t i) {
    for (int64_t h = 0; h < d.heads; ++h) {
      for (int part = 0; part < 2; ++part) {  // q, then k
        Rotate(qkv.data() + i * 3 * d.dim + part * d.dim + h * hd, rope.cos.data() + i * rope.dim, rope.sin.data() + i * rope.dim, hd / 2);
      }
    }
  });
  AddInto(x, Linear(s, b.wo, b.wo_bias, Attend(s, qkv, n, d.dim, d.heads), n));
  const Rows gate_up = Linear(s, b.w1, {}, RmsNorm(x, n, b.norm2, d.norm_eps), n);
  Rows h(static_cast<size_t>(n * d.inter));
  ForRows(s, n, [&](int64_t i) {
    for (int64_t j = 0; j < d.inter; ++j) {
      const float g = gate_up[static_cast<size_t>(i * 2 * d.inter + j)], u = gate_up[static_cast<size_t>(i * 2 * d.inter + d.inter + j)];
      h[static_cast<size_t>(i * d.inter + j)] = num::RoundBf16(num::RoundBf16(g / (1.0f + std::exp(-g))) * u);
    }
  });
  AddInto(x, Linear(s, b.w2, {}, h, n));
}

// The aligner's input: the patch grid zero-padded right and bottom to multiples of k, each k × k
// cell one row in channel-major order (channel · k² + ky · k + kx), cells in reading order.
Rows Merge(const Rows& x, const EncoderGrid& g, int64_t dim, int64_t k) {
  const int64_t ch = (g.h + k - 1) / k, cw = (g.w + k - 1) / k;
  Rows out(static_cast<size_t>(ch * cw * dim * k * k), 0.0f);
  for (int64_t cy = 0; cy < ch; ++cy) {
    for (int64_t cx = 0; cx < cw; ++cx) {
      float* row = out.data() + (cy * cw + cx) * dim * k * k;
      for (int64_t ky = 0; ky < k; ++ky) {
        for (int64_t kx = 0; kx < k; ++kx) {
          const int64_t py = cy * k + ky, px = cx * k + kx;
          if (py >= g.h || px >= g.w) continue;
          for (int64_t c = 0; c < dim; ++c) row[c * k * k + ky * k + kx] = x[static_cast<size_t>((py * g.w + px) * dim + c)];
        }
      }
    }
  }
  return out;
}

void Check(bool ok, const std::string& what) {
  if (!ok) Fail(StatusCode::kInvalidArgument, "vision encoder: " + what);
}

void CheckMatrix(const WeightMatrix& w, int64_t rows, int64_t cols, const std::string& name) {
  Check(w.data != nullptr && w.rows == rows && w.cols == cols,
        name + " is [" + std::to_string(w.rows) + ", " + std::to_string(w.cols) + "], expected [" + std::to_string(rows) + ", " +
            std::to_string(cols) + "]");
}

void CheckVector(const std::vector<float>& v, int64_t n, const std::string& name) {
  Check(static_cast<int64_t>(v.size()) == n, name + " has " + std::to_string(v.size()) + " values, expected " + std::to_string(n));
}

}  // namespace

CpuVisionEncoder::CpuVisionEncoder(const VisionEncoderDesc& d) : d_(d) {
  Check(d.dim > 0 && d.heads > 0 && d.dim % d.heads == 0 && (d.dim / d.heads) % 4 == 0,
        "dim must split into heads whose width is a multiple of 4 (2D RoPE)");
  Check(d.inter > 0 && d.patch > 0 && d.merge > 0 && d.out_dim > 0, "inter, patch, merge and out_dim must be positive");
  CheckMatrix(d.patch_embed, d.dim, 3 * d.patch * d.patch, "patch_embed");
  CheckVector(d.patch_bias, d.dim, "patch_embed bias");
  for (size_t i = 0; i < d.blocks.size(); ++i) {
    const auto& b = d.blocks[i];
    const std::string at = "block " + std::to_string(i) + " ";
    CheckVector(b.norm1, d.dim, at + "norm1");
    CheckVector(b.norm2, d.dim, at + "norm2");
    CheckMatrix(b.wqkv, 3 * d.dim, d.dim, at + "wqkv");
    CheckVector(b.wqkv_bias, 3 * d.dim, at + "wqkv bias");
    CheckMatrix(b.wo, d.dim, d.dim, at + "wo");
    CheckVector(b.wo_bias, d.dim, at + "wo bias");
    CheckMatrix(b.w1, 2 * d.inter, d.dim, at + "w1");
    CheckMatrix(b.w2, d.dim, d.inter, at + "w2");
  }
  CheckVector(d.norm, d.dim, "norm");
  CheckMatrix(d.align1, d.out_dim, d.dim * d.merge * d.merge, "aligner w1");
  CheckVector(d.align1_bias, d.out_dim, "aligner w1 bias");
  CheckMatrix(d.align2, d.out_dim, d.out_dim, "aligner w2");
  CheckVector(d.align2_bias, d.out_dim, "aligner w2 bias");
}

int64_t CpuVisionEncoder::OutputRows(const EncoderGrid& g) const {
  return ((g.h + d_.merge - 1) / d_.merge) * ((g.w + d_.merge - 1) / d_.merge);
}

std::vector<float> CpuVisionEncoder::Tower(Stream& s, const float* input, const EncoderGrid& g) const {
  const int64_t n = g.h * g.w;
  const Rows patches(input, input + n * input_width());
  Rows x = Linear(s, d_.patch_embed, d_.patch_bias, patches, n);
  const Rope rope = MakeRope(g, d_.dim / d_.heads, d_.rope_theta);
  for (const auto& b : d_.blocks) Block(s, d_, b, rope, x, n);
  return RmsNorm(x, n, d_.norm, d_.norm_eps);
}

void CpuVisionEncoder::Align(Stream& s, const std::vector<float>& vit, const EncoderGrid& g, float* out) const {
  const int64_t rows = OutputRows(g);
  Rows hidden = Linear(s, d_.align1, d_.align1_bias, Merge(vit, g, d_.dim, d_.merge), rows);
  for (float& v : hidden) v = num::RoundBf16(0.5f * v * (1.0f + std::erf(v / std::sqrt(2.0f))));  // exact GELU
  const Rows aligned = Linear(s, d_.align2, d_.align2_bias, hidden, rows);
  std::copy(aligned.begin(), aligned.end(), out);
}

void CpuVisionEncoder::Encode(Stream& s, const float* input, const EncoderGrid& g, float* out) {
  Check(g.h > 0 && g.w > 0 && input != nullptr && out != nullptr, "an empty patch grid or a null buffer");
  Align(s, Tower(s, input, g), g, out);
}

}  // namespace deepseek::backend::cpu

// Model-independent operators with the numerics of the V4 reference: activations are fp32
// arrays holding bf16 values between operators, and each operator rounds its output to bf16
// where the reference stores bf16. Heavy operators run on a backend Stream; the light
// element-wise ones run here on the host.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backends/backend.h"

namespace deepseek::ops {

using backend::Stream;
using backend::WeightMatrix;

// y[n, W.rows] = x[n, W.cols] · Wᵀ in fp32 (no rounding).
void MatMulF32(Stream& s, const WeightMatrix& w, const float* x, int64_t n, float* y);
// The same, rounded to bf16: the reference's bf16 nn.Linear.
void Linear(Stream& s, const WeightMatrix& w, const float* x, int64_t n, float* y);

void RoundToBf16(float* x, int64_t n);

// y[r, :] = bf16(weight ⊙ x[r, :] · (mean(x[r, :]²) + eps)^−1/2), statistics in fp32.
void RmsNorm(const float* x, int64_t rows, int64_t dim, const float* weight, float eps, float* y);

// In place, per row of `dim` values held as bf16, the reference's bf16 arithmetic:
// x ← x · rsqrt(mean(x²) + eps) with every intermediate rounded to bf16 (the per-head q norm).
void RmsNormNoWeightBf16(float* x, int64_t rows, int64_t dim, float eps);

// Interleaved rotary embedding on `rope_dim` values at offset `first` of each row:
// pairs (2k, 2k+1) rotate by pos·freqs[k] (inverse: by −pos·freqs[k]); result rounded to bf16.
// Rows r = 0..rows-1 have position positions[r / rows_per_position].
void Rope(float* x, int64_t rows, int64_t stride, int64_t first, int rope_dim,
          std::span<const float> freqs, std::span<const int64_t> positions,
          int64_t rows_per_position, bool inverse);

// FP8 e4m3 fake quantisation of x[r, 0:width] in blocks of `block` (ue8m0 scales); bf16 result.
void FakeQuantFp8(float* x, int64_t rows, int64_t stride, int64_t width, int block);
// FP4 e2m1 fake quantisation of whole rows in blocks of `block`; bf16 result.
void FakeQuantFp4(float* x, int64_t rows, int64_t dim, int block);

// NVFP4 fake quantisation of whole rows in blocks of 16 with e4m3 scales (V4.1's compressed
// KV); bf16 result.
void FakeQuantNvfp4(float* x, int64_t rows, int64_t dim);

// Orthonormal Walsh–Hadamard transform (Sylvester order, scaled by dim^−1/2) of each row;
// dim is a power of two; result rounded to bf16.
void Hadamard(float* x, int64_t rows, int64_t dim);

// A whole MoE layer, routing included (see backend::Stream::MoeLayer); bf16 output.
void MoeLayer(Stream& s, const backend::MoeLayerDesc& layer, const float* x, int64_t S, int64_t D,
              std::span<const int32_t> tokens, std::span<const int32_t> imposed, std::span<int32_t> experts,
              std::span<float> weights, float* out);

// Sparse attention with a per-head sink (see backend::Stream::SparseAttention); bf16 output.
void SparseAttention(Stream& s, const float* q, int64_t n, int heads, int dim, const backend::AttentionKv& kv,
                     std::span<const int64_t> offsets, std::span<const int32_t> indices, const float* sink,
                     float scale, float* out);

}  // namespace deepseek::ops

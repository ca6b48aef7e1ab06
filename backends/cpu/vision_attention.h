// Non-SIMD entry point of the vision tower's attention (vision_attention.cc, one instance per
// Highway target, dispatched once per call).
#pragma once

#include <cstdint>

namespace deepseek::backend::cpu {

// Keys and value dims are padded to multiples of this (zeros), so that the kernel's vectors of
// any target (at most 16 floats, two at a time) never need a tail.
inline constexpr int64_t kVisionAttentionPad = 32;

// Queries the kernel takes together through one pass over the keys and values: callers that
// split the queries over threads cut them in multiples of it.
inline constexpr int64_t kVisionAttentionTileQueries = 16;

constexpr int64_t PadForVisionAttention(int64_t n) {
  return (n + kVisionAttentionPad - 1) / kVisionAttentionPad * kVisionAttentionPad;
}

// One head of bidirectional attention over n positions, laid out by the caller:
//   q  [n, hd]            the queries, row stride q_stride,
//   kt [hd, n_pad]        the keys transposed, keys n .. n_pad − 1 zero,
//   v  [n_pad, hd_pad]    the values, rows n .. n_pad − 1 and dims hd .. hd_pad − 1 zero,
// with n_pad = PadForVisionAttention(n), hd_pad = PadForVisionAttention(hd). For the queries
// [q_begin, q_end): out[(i − q_begin) · out_stride + d] = bf16(Σ_j p_ij v_jd), p_i =
// softmax_j(scale · q_i·k_j), everything in fp32 as the reference does. Each output is summed
// in one order (dims, then keys ascending), so any split of the queries gives the same values.
void AttendVisionHead(const float* q, int64_t q_stride, const float* kt, const float* v, int64_t n, int64_t hd, float scale,
                      int64_t q_begin, int64_t q_end, float* out, int64_t out_stride);

}  // namespace deepseek::backend::cpu

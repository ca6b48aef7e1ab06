// Non-SIMD entry point of the experts' SwiGLU (swiglu.cc, one instance per Highway target,
// dispatched once per call).
#pragma once

#include <cstdint>

namespace deepseek::backend::cpu {

// In place over count elements, as the reference computes a SwiGLU expert's activation in its
// bf16 mode: g = bf16(gate[j]) and u = bf16(up[j]); with limit > 0, u is clamped to
// [−limit, limit] and g from above at limit; gate[j] = bf16(g / (1 + e^−g) · u · weight), in
// fp32 (e^−g to within an ulp of exp; where e^−g overflows, silu(g) is −0, as in fp32). A NaN
// gate or up gives NaN.
void SwiGluBf16(float* gate, const float* up, int64_t count, float limit, float weight);

}  // namespace deepseek::backend::cpu

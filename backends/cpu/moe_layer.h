// The CPU MoE layer (Stream::MoeLayer, see backends/backend.h): routing on the caller's thread,
// then the selected experts and the shared expert together, each expert's matrices read once
// for all of its tokens, in two parallel regions per layer (gate and up with the SwiGLU, then
// down) rather than a fork-join per matrix.
#pragma once

#include <cstdint>
#include <span>

#include "backends/backend.h"
#include "core/scratch_stack.h"

namespace deepseek {
class ThreadPool;
}

namespace deepseek::backend::cpu {

// Stream::MoeLayer on validated arguments; the weight operators are counted in `stats`. The
// experts' inputs and intermediates take their memory from `scratch` (the stream's, kept from
// call to call).
void RunMoeLayer(const MoeLayerDesc& layer, const float* x, int64_t S, int64_t D, std::span<const int32_t> tokens,
                 std::span<const int32_t> imposed, std::span<int32_t> experts, std::span<float> weights, float* out,
                 ThreadPool& pool, ScratchStack& scratch, StreamStats& stats);

}  // namespace deepseek::backend::cpu

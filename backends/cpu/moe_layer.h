// The CPU MoE layer (Stream::MoeLayer, see backends/backend.h): routing on the caller's thread,
// then every selected expert once over all of its tokens and the shared expert, through the
// stream's own MatMul.
#pragma once

#include <cstdint>
#include <span>

#include "backends/backend.h"

namespace deepseek::backend::cpu {

// Stream::MoeLayer on validated arguments; `stream` runs the matrix products.
void RunMoeLayer(Stream& stream, const MoeLayerDesc& layer, const float* x, int64_t S, int64_t D,
                 std::span<const int32_t> tokens, std::span<const int32_t> imposed, std::span<int32_t> experts,
                 std::span<float> weights, float* out);

}  // namespace deepseek::backend::cpu

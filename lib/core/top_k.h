// Top-k selection in linear time, shared by the indexer (model) and MoE routing (backends).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace deepseek {

// Indices of the k largest values, by descending value then ascending index (k ≤ values.size();
// the order is total, so the result is a full sort's first k).
std::vector<int32_t> TopK(std::span<const float> values, int k);

}  // namespace deepseek

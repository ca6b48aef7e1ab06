// Top-k selection in linear time, shared by the indexer (model) and MoE routing (backends).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace deepseek {

// Indices of the k largest values, by descending value then ascending index (k ≤ values.size();
// the order is total, so the result is a full sort's first k).
std::vector<int32_t> TopK(std::span<const float> values, int k);

// The k entries torch.topk(values, k) returns on the CPU, in its order, where ties are resolved
// as that implementation resolves them: pairs (value, index) in index order, partially ordered
// by value descending (NaN first) with std::partial_sort when 64·k ≤ n, else std::nth_element at
// k − 1. The V4.1 reference selects entries so, including −inf entries when fewer than k are
// finite, and the goldens record those picks (with libstdc++, whose algorithms torch uses).
std::vector<int32_t> TorchTopK(std::span<const float> values, int k);

}  // namespace deepseek

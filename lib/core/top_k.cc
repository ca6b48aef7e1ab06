#include "core/top_k.h"

#include <algorithm>
#include <numeric>

namespace deepseek {

std::vector<int32_t> TopK(std::span<const float> values, int k) {
  std::vector<int32_t> idx(values.size());
  std::iota(idx.begin(), idx.end(), 0);
  const auto better = [&](int32_t a, int32_t b) {
    return values[static_cast<size_t>(a)] > values[static_cast<size_t>(b)] ||
           (values[static_cast<size_t>(a)] == values[static_cast<size_t>(b)] && a < b);
  };
  const size_t kk = std::min(static_cast<size_t>(std::max(k, 0)), idx.size());
  // Linear-time selection, then the k chosen in order.
  if (kk < idx.size()) std::nth_element(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(kk), idx.end(), better);
  idx.resize(kk);
  std::sort(idx.begin(), idx.end(), better);
  return idx;
}

}  // namespace deepseek

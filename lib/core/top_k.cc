#include "core/top_k.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

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

std::vector<int32_t> TorchTopK(std::span<const float> values, int k) {
  using Entry = std::pair<float, int32_t>;
  std::vector<Entry> queue(values.size());
  for (size_t i = 0; i < values.size(); ++i) queue[i] = {values[i], static_cast<int32_t>(i)};
  const auto before = [](const Entry& a, const Entry& b) {
    return (std::isnan(a.first) && !std::isnan(b.first)) || a.first > b.first;
  };
  const auto kk = static_cast<std::ptrdiff_t>(std::min(static_cast<size_t>(std::max(k, 0)), queue.size()));
  if (kk == 0) return {};
  if (kk * 64 <= static_cast<std::ptrdiff_t>(queue.size())) {
    std::partial_sort(queue.begin(), queue.begin() + kk, queue.end(), before);
  } else {
    std::nth_element(queue.begin(), queue.begin() + kk - 1, queue.end(), before);
  }
  std::vector<int32_t> picked(static_cast<size_t>(kk));
  for (std::ptrdiff_t i = 0; i < kk; ++i) picked[static_cast<size_t>(i)] = queue[static_cast<size_t>(i)].second;
  return picked;
}

}  // namespace deepseek

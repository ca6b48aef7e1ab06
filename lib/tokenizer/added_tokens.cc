#include "tokenizer/added_tokens.h"

#include <algorithm>

namespace deepseek::tokenizer {

int32_t AddedTokenMatcher::Child(int32_t node, uint8_t byte) const {
  const auto& next = nodes_[static_cast<size_t>(node)].next;
  const auto it = std::lower_bound(next.begin(), next.end(), std::pair<uint8_t, int32_t>(byte, -1));
  return it != next.end() && it->first == byte ? it->second : -1;
}

void AddedTokenMatcher::Add(std::string_view text, int32_t id) {
  first_byte_[static_cast<uint8_t>(text[0])] = true;
  int32_t node = 0;
  for (const char c : text) {
    const uint8_t byte = static_cast<uint8_t>(c);
    int32_t child = Child(node, byte);
    if (child < 0) {
      child = static_cast<int32_t>(nodes_.size());
      nodes_.emplace_back();
      auto& next = nodes_[static_cast<size_t>(node)].next;
      next.insert(std::lower_bound(next.begin(), next.end(), std::pair<uint8_t, int32_t>(byte, -1)),
                  {byte, child});
    }
    node = child;
  }
  nodes_[static_cast<size_t>(node)].id = id;
}

void AddedTokenMatcher::FindAll(std::string_view text, std::vector<TokenMatch>& out) const {
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  for (size_t i = 0; i < text.size();) {
    if (!first_byte_[p[i]]) {
      ++i;
      continue;
    }
    TokenMatch longest{i, i, -1};
    int32_t node = 0;
    for (size_t j = i; j < text.size() && (node = Child(node, p[j])) >= 0; ++j) {
      const int32_t id = nodes_[static_cast<size_t>(node)].id;
      if (id >= 0) longest = {i, j + 1, id};
    }
    if (longest.id < 0) {
      ++i;
      continue;
    }
    out.push_back(longest);
    i = longest.end;
  }
}

}  // namespace deepseek::tokenizer

// Finds added-token texts in raw input: leftmost match first, the longest one at that position
// (Hugging Face's Aho-Corasick in LeftmostLongest mode gives the same matches).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace deepseek::tokenizer {

struct TokenMatch {
  size_t begin;
  size_t end;
  int32_t id;
};

class AddedTokenMatcher {
 public:
  // `text` is non-empty and not already added.
  void Add(std::string_view text, int32_t id);

  // Appends the non-overlapping matches in text, left to right.
  void FindAll(std::string_view text, std::vector<TokenMatch>& out) const;

 private:
  struct Node {
    int32_t id = -1;                               // token ending here, or -1
    std::vector<std::pair<uint8_t, int32_t>> next;  // (byte, child), sorted by byte
  };
  int32_t Child(int32_t node, uint8_t byte) const;

  std::vector<Node> nodes_{Node{}};  // node 0 is the root
  std::array<bool, 256> first_byte_{};  // whether some token starts with the byte
};

}  // namespace deepseek::tokenizer

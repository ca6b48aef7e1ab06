// Byte-level BPE over token ids: a piece's bytes start as their one-byte tokens and adjacent
// pairs are merged by merge rank, exactly as Hugging Face tokenizers' BPE model does it.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace deepseek::tokenizer {

struct Merge {
  int32_t left;
  int32_t right;
  int32_t merged;  // id of left's text + right's text
};

// Per-call working memory, reused across the pieces of one Encode so that merging a piece
// does not allocate.
struct BpeScratch {
  struct Symbol {
    int32_t id;
    int32_t prev;  // index of the previous live symbol, -1 at the start
    int32_t next;  // index of the next live symbol, -1 at the end
    bool live;
  };
  struct Candidate {
    uint32_t rank;
    uint32_t pos;  // index of the pair's left symbol
    int32_t merged;
  };
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
};

class Bpe {
 public:
  // `byte_tokens[b]` is the id of the one-character token of byte b; `merges` is in rank order.
  // A pair listed twice keeps the later rank, as in Hugging Face's merge map.
  Bpe(const std::array<int32_t, 256>& byte_tokens, const std::vector<Merge>& merges);

  // Appends the ids of `piece` (raw bytes, non-empty) to `out`.
  void Encode(std::string_view piece, std::vector<int32_t>& out, BpeScratch& scratch) const;

 private:
  struct Slot {
    uint64_t key;  // (left << 32) | right; kEmpty when unused
    uint32_t rank;
    int32_t merged;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  // The slot of pair (left, right), or nullptr when the pair has no merge.
  const Slot* Find(int32_t left, int32_t right) const;
  size_t SlotOf(uint64_t key) const;

  std::array<int32_t, 256> byte_tokens_;
  std::vector<Slot> slots_;  // open addressing, linear probing, power-of-two size
  int shift_ = 0;
};

}  // namespace deepseek::tokenizer

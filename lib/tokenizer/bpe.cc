#include "tokenizer/bpe.h"

#include <algorithm>

namespace deepseek::tokenizer {
namespace {

uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// Min-heap order on (rank, position): the lowest rank first, the leftmost among equal ranks.
// (A function object rather than a function, so that the heap algorithms inline it.)
struct Later {
  bool operator()(const BpeScratch::Candidate& a, const BpeScratch::Candidate& b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  }
};

}  // namespace

Bpe::Bpe(const std::array<int32_t, 256>& byte_tokens, const std::vector<Merge>& merges)
    : byte_tokens_(byte_tokens) {
  size_t capacity = 16;
  shift_ = 60;
  while (capacity < merges.size() * 2) capacity *= 2, --shift_;
  slots_.assign(capacity, Slot{kEmpty, 0, 0});
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const Merge& m = merges[rank];
    Slot& slot = slots_[SlotOf(PairKey(m.left, m.right))];
    slot = Slot{PairKey(m.left, m.right), static_cast<uint32_t>(rank), m.merged};
  }
}

size_t Bpe::SlotOf(uint64_t key) const {
  const size_t mask = slots_.size() - 1;
  size_t i = static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
  while (slots_[i].key != kEmpty && slots_[i].key != key) i = (i + 1) & mask;
  return i;
}

const Bpe::Slot* Bpe::Find(int32_t left, int32_t right) const {
  const Slot& slot = slots_[SlotOf(PairKey(left, right))];
  return slot.key == kEmpty ? nullptr : &slot;
}

// The same procedure as Hugging Face's Word::merge_all: candidates in a heap ordered by (rank,
// position), each re-checked when popped by the id it would produce. Symbols only ever grow, so
// a live pair with the same merged text covers the same bytes and is the same pair.
void Bpe::Encode(std::string_view piece, std::vector<int32_t>& out, BpeScratch& scratch) const {
  const size_t n = piece.size();
  if (n == 1) {
    out.push_back(byte_tokens_[static_cast<uint8_t>(piece[0])]);
    return;
  }
  auto& symbols = scratch.symbols;
  auto& heap = scratch.heap;
  symbols.resize(n);
  heap.clear();
  for (size_t i = 0; i < n; ++i) {
    symbols[i] = {byte_tokens_[static_cast<uint8_t>(piece[i])], static_cast<int32_t>(i) - 1,
                  i + 1 < n ? static_cast<int32_t>(i + 1) : -1, true};
  }
  for (size_t i = 0; i + 1 < n; ++i) {
    if (const Slot* s = Find(symbols[i].id, symbols[i + 1].id)) {
      heap.push_back({s->rank, static_cast<uint32_t>(i), s->merged});
    }
  }
  std::make_heap(heap.begin(), heap.end(), Later{});

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), Later{});
    const BpeScratch::Candidate top = heap.back();
    heap.pop_back();
    BpeScratch::Symbol& left = symbols[top.pos];
    if (!left.live || left.next < 0) continue;
    BpeScratch::Symbol& right = symbols[static_cast<size_t>(left.next)];
    const Slot* current = Find(left.id, right.id);
    if (current == nullptr || current->merged != top.merged) continue;

    left.id = top.merged;
    left.next = right.next;
    right.live = false;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = static_cast<int32_t>(top.pos);
    if (left.prev >= 0) {
      if (const Slot* s = Find(symbols[static_cast<size_t>(left.prev)].id, left.id)) {
        heap.push_back({s->rank, static_cast<uint32_t>(left.prev), s->merged});
        std::push_heap(heap.begin(), heap.end(), Later{});
      }
    }
    if (left.next >= 0) {
      if (const Slot* s = Find(left.id, symbols[static_cast<size_t>(left.next)].id)) {
        heap.push_back({s->rank, top.pos, s->merged});
        std::push_heap(heap.begin(), heap.end(), Later{});
      }
    }
  }
  for (int32_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) out.push_back(symbols[static_cast<size_t>(i)].id);
}

}  // namespace deepseek::tokenizer

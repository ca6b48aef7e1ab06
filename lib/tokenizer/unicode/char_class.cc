#include "tokenizer/unicode/char_class.h"

#include <algorithm>
#include <array>

namespace deepseek::tokenizer {
namespace {

CharClass SearchRanges(uint32_t cp) {
  const CodePointRange* begin = kCodePointRanges;
  const CodePointRange* end = kCodePointRanges + kCodePointRangeCount;
  const CodePointRange* it =
      std::upper_bound(begin, end, cp, [](uint32_t c, const CodePointRange& r) { return c < r.first; });
  if (it == begin) return CharClass::kOther;
  --it;
  return cp <= it->last ? it->cls : CharClass::kOther;
}

// Latin, Greek, Cyrillic, Hebrew and Arabic (everything encoded in 1 or 2 UTF-8 bytes) are
// looked up directly: they make up most non-CJK text.
constexpr uint32_t kDirectLimit = 0x800;

const std::array<CharClass, kDirectLimit>& DirectTable() {
  static const std::array<CharClass, kDirectLimit> table = [] {
    std::array<CharClass, kDirectLimit> t{};
    for (uint32_t cp = 0; cp < kDirectLimit; ++cp) t[cp] = SearchRanges(cp);
    return t;
  }();
  return table;
}

}  // namespace

CharClass ClassOf(uint32_t cp) {
  if (cp < kDirectLimit) return DirectTable()[cp];
  return SearchRanges(cp);
}

}  // namespace deepseek::tokenizer

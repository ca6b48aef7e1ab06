// The generated Unicode 16 class table (unicode_tables.cc); see generate_tables.mjs.
#pragma once

#include <cstddef>
#include <cstdint>

namespace deepseek::tokenizer {

// The character classes DeepSeek's pre-tokenizer regexes distinguish: the general categories
// L, M, N, P, S, the White_Space property (\s), and everything else (C*, Z* outside
// White_Space, unassigned and private-use code points). Values are used by the generator.
enum class CharClass : uint8_t { kOther, kLetter, kMark, kNumber, kPunctuation, kSymbol, kSpace };

struct CodePointRange {
  uint32_t first;
  uint32_t last;  // inclusive
  CharClass cls;
};

// Sorted, disjoint ranges of every code point whose class is not kOther.
extern const CodePointRange kCodePointRanges[];
extern const size_t kCodePointRangeCount;

}  // namespace deepseek::tokenizer

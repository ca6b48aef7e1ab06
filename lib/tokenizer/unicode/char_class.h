// Classification of code points into the pre-tokenizer's character classes.
#pragma once

#include <cstdint>

#include "tokenizer/unicode/unicode_tables.h"

namespace deepseek::tokenizer {

// The class of `cp` (any value; beyond U+10FFFF is kOther). O(1) below U+0800, a binary search
// over the generated ranges above.
CharClass ClassOf(uint32_t cp);

}  // namespace deepseek::tokenizer

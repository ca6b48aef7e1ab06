// DeepSeek's pre-tokenizer, hand-coded: the three regex Splits of its tokenizer.json, each with
// Isolated behaviour (matches and the gaps between them all become pieces) and each running
// inside the pieces of the one before:
//   1. \p{N}{1,3}
//   2. [\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+
//   3. [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
//      ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// The alternatives of 3 are tried in order at each position (first match wins, as in
// Oniguruma), and a lookahead never sees past the end of the piece it runs in.
#pragma once

#include <functional>
#include <string_view>

namespace deepseek::tokenizer {

// The regex sources above, exactly as tokenizer.json spells them (after JSON unescaping); the
// loader accepts no other pre-tokenizer.
extern const std::string_view kSplitDigits;
extern const std::string_view kSplitCjk;
extern const std::string_view kSplitWords;

// Calls `emit` with the pieces of `text` (valid UTF-8), in order; together they spell `text`
// exactly. Works on the bytes in place: no allocation, whatever the text's length.
void PreTokenize(std::string_view text, const std::function<void(std::string_view)>& emit);

}  // namespace deepseek::tokenizer

// Engram's compressed token ids (spec §8.4, step 1), built from the tokenizer as the V4.1
// reference builds them: every id's decoded text goes through the normaliser chain of Hugging
// Face tokenizers (NFKC, NFD, strip accents, lowercase, whitespace runs to one space, strip), and
// ids with equal keys share a compressed id, numbered in order of first appearance. A text with
// U+FFFD (a token holding part of a UTF-8 character) is keyed by its raw token string instead.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deepseek/tokenizer.h"

namespace deepseek::tokenizer {

// The normaliser chain of the reference's build_compressed_token_map on valid UTF-8 `text`:
// NFKC → NFD → drop combining marks (General_Category Mark) → lowercase (per character) →
// runs of [ \t\r\n] to one space → a text that is exactly one space survives the strip → strip
// White_Space at both ends. Throws Error(kInvalidArgument) on invalid UTF-8.
std::string EngramNormalize(std::string_view text);

// One vocabulary entry as the map needs it: the raw token string (the vocabulary's byte-level
// text, or an added token's content) and its decoded text.
struct TokenTexts {
  std::string token;
  std::string text;
};

struct EngramTokenMap {
  std::vector<int32_t> ids;  // [vocab]: each token id's compressed id
  int32_t size = 0;          // the number of compressed ids
};

// The map over entries in id order.
EngramTokenMap BuildEngramTokenMap(std::span<const TokenTexts> entries);
// The map of a tokenizer (decode([id]) with special tokens kept; an id that is no token has
// empty texts).
EngramTokenMap BuildEngramTokenMap(const Tokenizer& tokenizer);

}  // namespace deepseek::tokenizer

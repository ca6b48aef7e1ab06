// Reads and validates a Hugging Face tokenizer.json of DeepSeek's kind: a byte-level BPE model
// with DeepSeek's exact pre-tokenizer, no normalization and a ByteLevel decoder. Anything the
// tokenizer would silently get wrong is refused: malformed files are kCorruptFile, well-formed
// but different pipelines kUnsupported, both naming the file and the field.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/bpe.h"

namespace deepseek::tokenizer {

struct AddedTokenSpec {
  int32_t id;
  std::string content;
  bool special;
  // Hugging Face matches non-normalized added tokens on the raw text first, then normalized
  // ones inside what is left.
  bool normalized;
};

struct TokenizerSpec {
  std::unordered_map<std::string, int32_t> vocab;  // model.vocab: byte-level text -> id
  std::vector<Merge> merges;                       // model.merges, in rank order
  std::array<int32_t, 256> byte_tokens{};          // id of each byte's one-character token
  std::vector<AddedTokenSpec> added;               // added_tokens, in file order
  int32_t vocab_size = 0;                          // one past the largest id
};

// Ids above this are refused, so a hostile file cannot make the tables huge.
inline constexpr int64_t kMaxTokenId = (int64_t{1} << 24) - 1;

// `name` (the file path or a label) prefixes every error message.
TokenizerSpec ParseTokenizerJson(std::string_view json, const std::string& name);

}  // namespace deepseek::tokenizer

// deepseek::Tokenizer: DeepSeek's byte-level BPE tokenizer, loaded from a Hugging Face
// tokenizer.json. Added tokens (special or not) are matched on the raw text first, leftmost and
// longest; the text between them goes through DeepSeek's three-split pre-tokenizer and BPE.
// There is no normalization and no BOS is added. Immutable once loaded; share it freely.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deepseek/status.h"

namespace deepseek {

class Tokenizer {
 public:
  // Loads tokenizer.json (a file path, or a checkpoint folder holding one). A malformed file
  // is kCorruptFile naming the file and the field at fault.
  static Result<std::shared_ptr<const Tokenizer>> Load(const std::string& path);
  // The same from the file's text; `name` appears in error messages.
  static Result<std::shared_ptr<const Tokenizer>> FromJson(std::string_view json, const std::string& name);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids of `text` (UTF-8). Invalid UTF-8 is kInvalidArgument naming the byte offset.
  Result<std::vector<int32_t>> Encode(std::string_view text) const;

  // The text of `ids`: token bytes concatenated, added tokens verbatim. Bytes that do not form
  // valid UTF-8 (an id sequence cut inside a character) become U+FFFD, as in Hugging Face.
  // An id that is no token (outside [0, vocab_size()), or a gap in the file's ids) is
  // kInvalidArgument naming its position. Skipping drops added tokens flagged "special".
  Result<std::string> Decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  // The raw bytes one token stands for (not necessarily valid UTF-8 on its own); empty for an
  // id that is not a token.
  std::string TokenBytes(int32_t id) const;

  // Id of an exact token text — an added token such as "<｜User｜>" or a vocabulary entry in
  // the byte-level alphabet ("Ġthe").
  std::optional<int32_t> TokenId(std::string_view token_text) const;
  bool IsSpecial(int32_t id) const;  // an added token flagged special
  bool IsAdded(int32_t id) const;    // any added token (matched before pre-tokenization)

  // One past the largest id (vocabulary and added tokens).
  int64_t vocab_size() const;

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Turns a stream of token ids into text pieces that are always whole UTF-8 characters: bytes
// of a character split across tokens are held back until it completes. Finish() returns what
// is left (an incomplete tail becomes U+FFFD).
class TokenStreamDecoder {
 public:
  explicit TokenStreamDecoder(std::shared_ptr<const Tokenizer> tokenizer);
  // Text completed by `id` (possibly empty). Ids outside the vocabulary are kInvalidArgument.
  Result<std::string> Push(int32_t id);
  std::string Finish();
  void Reset();

 private:
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::string pending_;  // bytes of an incomplete UTF-8 character
};

}  // namespace deepseek

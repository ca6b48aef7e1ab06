// A small but real byte-level BPE tokenizer in the Hugging Face tokenizer.json format, shaped
// like DeepSeek's (same normalizer, pre-tokenizer, decoder and special tokens), with merges
// learned deterministically from an embedded English text.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace deepseek::tinygen {

// BOS, EOS and pad (ids 0-2), the 256 byte tokens and the five chat-format tokens.
inline constexpr int64_t kMinTokenizerVocab = 3 + 256 + 5;

// An added token that follows the chat tokens (V4.1's <｜System｜> and <｜deepseek_image｜>).
struct ExtraToken {
  std::string content;
  // false for a role token, which DeepSeek marks special=false, normalized=true (as <｜User｜>),
  // so decoding keeps it even when special tokens are skipped.
  bool special = true;
};

// tokenizer.json whose ids are exactly 0 .. vocab_size-1: BOS 0, EOS 1, pad 2, byte tokens
// 3-258, then as many learned merges as fit, then added tokens: unused placeholders
// <｜place▁holder▁no▁N｜> when the text runs out of merges, then <｜User｜>, <｜Assistant｜>,
// <think>, </think>, ｜DSML｜, and finally the `extra` tokens in order as the last ids. As in
// DeepSeek's file, ids 0-2 are both vocab entries and added tokens. Throws
// Error(kInvalidArgument) below kMinTokenizerVocab + extra.size().
std::string BuildTokenizerJson(int64_t vocab_size, std::span<const ExtraToken> extra = {});

// tokenizer_config.json as DeepSeek ships it (no automatic BOS/EOS, EOS doubles as pad).
std::string BuildTokenizerConfigJson();

}  // namespace deepseek::tinygen

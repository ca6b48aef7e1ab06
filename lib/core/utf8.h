// UTF-8 as the text layers need it: strict validation of caller text, Rust's
// String::from_utf8_lossy for decoded token bytes (one U+FFFD per maximal invalid subpart, as
// the reference tokenizer does), and finding a character cut off at the end of a stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace deepseek {

// What the bytes at the start of a buffer hold.
struct Utf8Step {
  enum Kind : uint8_t {
    kValid,       // a whole character of `length` bytes, value `cp`
    kInvalid,     // `length` bytes (1-3) that can never start a character: one U+FFFD
    kIncomplete,  // the buffer ends inside a character that could still complete
  };
  Kind kind;
  uint8_t length;
  uint32_t cp;
};

// Reads one character from p[0..n), n > 0. Rejects overlong forms, surrogates and values above
// U+10FFFF, as Rust's str and the Unicode standard do.
Utf8Step ReadUtf8(const uint8_t* p, size_t n);

// Byte offset of the first invalid or truncated sequence in `text`, or text.size() when the
// whole text is valid UTF-8.
size_t FirstInvalidUtf8(std::string_view text);

// Appends `bytes` to `out` with each maximal invalid subpart (and an incomplete tail) replaced by
// U+FFFD.
void AppendUtf8Lossy(std::string_view bytes, std::string& out);

void AppendUtf8(uint32_t cp, std::string& out);

// Bytes at the end of `text` that begin a character the text stops in the middle of (0-3); 0
// when the text ends on a character boundary or its tail is invalid anyway.
size_t IncompleteUtf8Tail(std::string_view text);

}  // namespace deepseek

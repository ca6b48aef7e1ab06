// GPT-2's byte-level alphabet: every byte is written as one visible character so that BPE
// vocabularies and merges are plain text. Bytes 0x21-0x7E, 0xA1-0xAC and 0xAE-0xFF stand for
// the code point of the same number; the other 68 bytes map, in byte order, to U+0100 onward
// (space is U+0120 'Ġ', '\n' is U+010A 'Ċ').
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace deepseek::tokenizer {

// The code point standing for `byte`.
uint32_t ByteToCodePoint(uint8_t byte);

// The byte `cp` stands for, if it is one of the 256 alphabet characters.
std::optional<uint8_t> CodePointToByte(uint32_t cp);

// The raw bytes of a vocabulary entry. An entry made only of alphabet characters maps back to
// bytes; any other entry contributes its own UTF-8, as Hugging Face's ByteLevel decoder does.
// `token` must be valid UTF-8.
std::string TokenTextToBytes(std::string_view token);

}  // namespace deepseek::tokenizer

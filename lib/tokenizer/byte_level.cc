#include "tokenizer/byte_level.h"

#include <array>

#include "core/utf8.h"

namespace deepseek::tokenizer {
namespace {

struct Alphabet {
  std::array<uint32_t, 256> code_point{};
  std::array<int16_t, 512> byte_of{};  // every alphabet code point is below U+0144; -1 elsewhere
};

constexpr Alphabet MakeAlphabet() {
  Alphabet a;
  for (int16_t& b : a.byte_of) b = -1;
  uint32_t next = 0x100;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool itself = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    a.code_point[b] = itself ? b : next++;
    a.byte_of[a.code_point[b]] = static_cast<int16_t>(b);
  }
  return a;
}

constexpr Alphabet kAlphabet = MakeAlphabet();

}  // namespace

uint32_t ByteToCodePoint(uint8_t byte) { return kAlphabet.code_point[byte]; }

std::optional<uint8_t> CodePointToByte(uint32_t cp) {
  if (cp >= kAlphabet.byte_of.size() || kAlphabet.byte_of[cp] < 0) return std::nullopt;
  return static_cast<uint8_t>(kAlphabet.byte_of[cp]);
}

std::string TokenTextToBytes(std::string_view token) {
  std::string bytes;
  const auto* p = reinterpret_cast<const uint8_t*>(token.data());
  for (size_t i = 0; i < token.size();) {
    const Utf8Step step = ReadUtf8(p + i, token.size() - i);
    const std::optional<uint8_t> byte =
        step.kind == Utf8Step::kValid ? CodePointToByte(step.cp) : std::nullopt;
    if (!byte) return std::string(token);
    bytes += static_cast<char>(*byte);
    i += step.length;
  }
  return bytes;
}

}  // namespace deepseek::tokenizer

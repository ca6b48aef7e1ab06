#include "core/utf8.h"

namespace deepseek {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

Utf8Step ReadUtf8(const uint8_t* p, size_t n) {
  const uint8_t b0 = p[0];
  if (b0 < 0x80) return {Utf8Step::kValid, 1, b0};
  // Sequence length and the allowed range of the second byte (the only one that varies; it
  // excludes overlongs, surrogates and code points above U+10FFFF).
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF;
  uint32_t cp;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {Utf8Step::kInvalid, 1, 0};
  }
  for (size_t i = 1; i < len; ++i) {
    if (i >= n) return {Utf8Step::kIncomplete, static_cast<uint8_t>(i), 0};
    const uint8_t b = p[i];
    if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) {
      return {Utf8Step::kInvalid, static_cast<uint8_t>(i), 0};
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  return {Utf8Step::kValid, static_cast<uint8_t>(len), cp};
}

size_t FirstInvalidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const Utf8Step step = ReadUtf8(p + i, n - i);
    if (step.kind != Utf8Step::kValid) return i;
    i += step.length;
  }
  return n;
}

void AppendUtf8Lossy(std::string_view bytes, std::string& out) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    const Utf8Step step = ReadUtf8(p + i, n - i);
    if (step.kind == Utf8Step::kValid) {
      out.append(bytes.data() + i, step.length);
    } else {
      out += kReplacement;
    }
    i += step.length;
  }
}

size_t IncompleteUtf8Tail(std::string_view text) {
  // A character is at most 4 bytes, so only a lead byte among the last 3 can be unfinished.
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  for (size_t back = 1; back <= 3 && back <= text.size(); ++back) {
    const size_t at = text.size() - back;
    if ((p[at] & 0xC0) == 0x80) continue;  // a continuation byte: keep looking for the lead
    return ReadUtf8(p + at, back).kind == Utf8Step::kIncomplete ? back : 0;
  }
  return 0;
}

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace deepseek

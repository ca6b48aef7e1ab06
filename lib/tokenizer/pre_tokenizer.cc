#include "tokenizer/pre_tokenizer.h"

#include <cstdint>

#include "tokenizer/unicode/char_class.h"
#include "core/utf8.h"

namespace deepseek::tokenizer {

const std::string_view kSplitDigits = R"(\p{N}{1,3})";
const std::string_view kSplitCjk = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+";
const std::string_view kSplitWords =
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
    " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

namespace {

struct Char {
  uint32_t cp;
  CharClass cls;
  uint32_t len;  // bytes
};

// The character at byte `pos` of valid UTF-8 text.
Char At(std::string_view text, size_t pos) {
  const auto* p = reinterpret_cast<const uint8_t*>(text.data()) + pos;
  if (*p < 0x80) return {*p, ClassOf(*p), 1};
  const Utf8Step step = ReadUtf8(p, text.size() - pos);
  return {step.cp, ClassOf(step.cp), step.length};
}

// Split 2's literal ranges (not \p{Han}: Ext-A, U+9FA6.., CJK punctuation and half-width kana
// are outside).
bool IsCjk(uint32_t cp) { return (cp >= 0x4E00 && cp <= 0x9FA5) || (cp >= 0x3040 && cp <= 0x30FF); }

bool IsAsciiLetter(uint32_t cp) { return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z'; }

// Every ASCII punctuation and symbol character: the bracket class of split 3's first
// alternative.
bool IsAsciiPunct(uint32_t cp) {
  return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60) ||
         (cp >= 0x7B && cp <= 0x7E);
}

bool IsLetterOrMark(CharClass c) { return c == CharClass::kLetter || c == CharClass::kMark; }
bool IsPunctOrSymbol(CharClass c) { return c == CharClass::kPunctuation || c == CharClass::kSymbol; }
bool IsNewline(uint32_t cp) { return cp == '\r' || cp == '\n'; }

// End of the run of characters satisfying `pred` that starts at byte `pos`.
template <typename Pred>
size_t SkipWhile(std::string_view text, size_t pos, size_t last, Pred pred) {
  while (pos < last) {
    const Char c = At(text, pos);
    if (!pred(c)) break;
    pos += c.len;
  }
  return pos;
}

// End (byte offset) of the match of split 3's alternation at byte i (< last), or i when no
// alternative matches there.
size_t MatchWords(std::string_view text, size_t i, size_t last) {
  const Char c = At(text, i);
  const size_t after = i + c.len;
  const bool has_next = after < last;
  const Char next = has_next ? At(text, after) : Char{0, CharClass::kOther, 0};

  // [!"#...~][A-Za-z]+
  if (IsAsciiPunct(c.cp) && has_next && IsAsciiLetter(next.cp)) {
    return SkipWhile(text, after, last, [](const Char& ch) { return IsAsciiLetter(ch.cp); });
  }
  // [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ : with or without the optional lead, the match runs to
  // the end of the letter/mark run.
  const bool can_lead = !IsNewline(c.cp) && c.cls != CharClass::kLetter && !IsPunctOrSymbol(c.cls);
  if (IsLetterOrMark(c.cls) || (can_lead && has_next && IsLetterOrMark(next.cls))) {
    return SkipWhile(text, after, last, [](const Char& ch) { return IsLetterOrMark(ch.cls); });
  }
  // ' '?[\p{P}\p{S}]+[\r\n]*
  if (IsPunctOrSymbol(c.cls) || (c.cp == ' ' && has_next && IsPunctOrSymbol(next.cls))) {
    const size_t j = SkipWhile(text, after, last, [](const Char& ch) { return IsPunctOrSymbol(ch.cls); });
    return SkipWhile(text, j, last, [](const Char& ch) { return IsNewline(ch.cp); });
  }
  if (c.cls != CharClass::kSpace) return i;
  size_t end = i;
  size_t last_start = i;     // start of the run's last character
  size_t after_newline = i;  // one past the run's last CR/LF
  while (end < last) {
    const Char ch = At(text, end);
    if (ch.cls != CharClass::kSpace) break;
    last_start = end;
    end += ch.len;
    if (IsNewline(ch.cp)) after_newline = end;
  }
  // \s*[\r\n]+ : \s* backtracks to the run's last newline.
  if (after_newline > i) return after_newline;
  // \s+(?!\S) : the whole run at the end of the piece; otherwise all but its last character,
  // which is left to the next word.
  if (end == last) return end;
  if (last_start > i) return last_start;
  // \s+
  return end;
}

// Split 3 over bytes [first, last): matches and the gaps between them.
void SplitWords(std::string_view text, size_t first, size_t last,
                const std::function<void(std::string_view)>& emit) {
  size_t gap = first;  // start of the unmatched stretch before i
  for (size_t i = first; i < last;) {
    const size_t end = MatchWords(text, i, last);
    if (end == i) {
      i += At(text, i).len;
      continue;
    }
    if (gap < i) emit(text.substr(gap, i - gap));
    emit(text.substr(i, end - i));
    i = gap = end;
  }
  if (gap < last) emit(text.substr(gap, last - gap));
}

}  // namespace

void PreTokenize(std::string_view text, const std::function<void(std::string_view)>& emit) {
  // Splits 1 and 2 together: their character sets are disjoint, so the result is number runs cut
  // into threes from the left, CJK runs, and runs of everything else. A number piece holds no
  // letter, mark, punctuation, symbol or space, so split 3 leaves it whole; the others go
  // through split 3.
  const size_t n = text.size();
  for (size_t pos = 0; pos < n;) {
    const Char c = At(text, pos);
    size_t end = pos + c.len;
    if (c.cls == CharClass::kNumber) {
      for (int count = 1; count < 3 && end < n; ++count) {
        const Char d = At(text, end);
        if (d.cls != CharClass::kNumber) break;
        end += d.len;
      }
      emit(text.substr(pos, end - pos));
    } else {
      const bool cjk = IsCjk(c.cp);
      end = SkipWhile(text, end, n, [cjk](const Char& d) { return d.cls != CharClass::kNumber && IsCjk(d.cp) == cjk; });
      SplitWords(text, pos, end, emit);
    }
    pos = end;
  }
}

}  // namespace deepseek::tokenizer

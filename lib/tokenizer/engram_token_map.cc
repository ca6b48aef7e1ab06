#include "tokenizer/engram_token_map.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <unordered_map>

#include "core/error.h"
#include "tokenizer/byte_level.h"

namespace deepseek::tokenizer {
namespace {

// U+E000 (private use) stands in for a text that is exactly one space while the ends are
// stripped, so that such a token keeps its own key.
constexpr utf8proc_int32_t kSentinel = 0xE000;
constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

// utf8proc_map under `options`, as code points.
std::vector<utf8proc_int32_t> Map(std::string_view text, int options) {
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                          static_cast<utf8proc_ssize_t>(text.size()), &mapped,
                                          static_cast<utf8proc_option_t>(options | UTF8PROC_STABLE));
  if (n < 0) Fail(StatusCode::kInvalidArgument, std::string("Engram normaliser: ") + utf8proc_errmsg(n));
  const std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(mapped, &std::free);
  std::vector<utf8proc_int32_t> out;
  for (utf8proc_ssize_t at = 0; at < n;) {
    utf8proc_int32_t cp = 0;
    at += utf8proc_iterate(mapped + at, n - at, &cp);
    out.push_back(cp);
  }
  return out;
}

std::string Encode(std::span<const utf8proc_int32_t> cps) {
  std::string out;
  utf8proc_uint8_t buffer[4];
  for (utf8proc_int32_t cp : cps) out.append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(utf8proc_encode_char(cp, buffer)));
  return out;
}

bool IsMark(utf8proc_int32_t cp) {
  const utf8proc_category_t c = utf8proc_category(cp);
  return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_MC || c == UTF8PROC_CATEGORY_ME;
}

bool IsCollapsedSpace(utf8proc_int32_t cp) { return cp == ' ' || cp == '\t' || cp == '\r' || cp == '\n'; }

// Unicode's White_Space property (what Rust's char::is_whitespace tests).
bool IsWhiteSpace(utf8proc_int32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

}  // namespace

std::string EngramNormalize(std::string_view text) {
  // NFKC, then NFD of its result (two passes, as two normalisers in sequence).
  const std::string nfkc = Encode(Map(text, UTF8PROC_COMPOSE | UTF8PROC_COMPAT));
  std::vector<utf8proc_int32_t> cps;
  for (utf8proc_int32_t cp : Map(nfkc, UTF8PROC_DECOMPOSE)) {
    if (IsMark(cp)) continue;
    cp = utf8proc_tolower(cp);
    if (IsCollapsedSpace(cp)) {
      if (!cps.empty() && cps.back() == ' ') continue;
      cp = ' ';
    }
    cps.push_back(cp);
  }
  if (cps.size() == 1 && cps[0] == ' ') cps[0] = kSentinel;
  const auto first = std::find_if_not(cps.begin(), cps.end(), IsWhiteSpace);
  const auto last = std::find_if_not(cps.rbegin(), std::make_reverse_iterator(first), IsWhiteSpace).base();
  std::vector<utf8proc_int32_t> kept(first, last);
  std::replace(kept.begin(), kept.end(), kSentinel, utf8proc_int32_t{' '});
  return Encode(kept);
}

EngramTokenMap BuildEngramTokenMap(std::span<const TokenTexts> entries) {
  EngramTokenMap map;
  std::unordered_map<std::string, int32_t> ids;
  for (const TokenTexts& e : entries) {
    std::string key;
    if (e.text.find(kReplacementCharacter) != std::string::npos) {
      key = e.token;
    } else {
      key = EngramNormalize(e.text);
      if (key.empty()) key = e.text;
    }
    const auto [it, added] = ids.emplace(std::move(key), map.size);
    if (added) ++map.size;
    map.ids.push_back(it->second);
  }
  return map;
}

EngramTokenMap BuildEngramTokenMap(const Tokenizer& tokenizer) {
  std::vector<TokenTexts> entries(static_cast<size_t>(tokenizer.vocab_size()));
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    TokenTexts& e = entries[static_cast<size_t>(id)];
    const int32_t ids[1] = {id};
    const Result<std::string> text = tokenizer.Decode(ids);
    if (!text.ok()) continue;  // a gap in the ids: no token, empty texts
    e.text = text.value();
    const std::string bytes = tokenizer.TokenBytes(id);
    if (tokenizer.IsAdded(id)) {
      e.token = bytes;
    } else {  // the vocabulary's byte-level spelling of the token's bytes
      utf8proc_uint8_t buffer[4];
      for (char b : bytes) {
        e.token.append(reinterpret_cast<const char*>(buffer),
                       static_cast<size_t>(utf8proc_encode_char(static_cast<utf8proc_int32_t>(ByteToCodePoint(static_cast<uint8_t>(b))), buffer)));
      }
    }
  }
  return BuildEngramTokenMap(entries);
}

}  // namespace deepseek::tokenizer

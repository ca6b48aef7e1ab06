#include "chat/text_checks.h"

#include <string>

#include "core/error.h"
#include "core/utf8.h"

namespace deepseek::chat {

void CheckUtf8(std::string_view text, std::string_view what) {
  const std::size_t bad = FirstInvalidUtf8(text);
  if (bad != text.size()) {
    Fail(StatusCode::kInvalidArgument, std::string(what) + ": not valid UTF-8 (byte " + std::to_string(bad) + ")");
  }
}

bool IsPythonSpace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

}  // namespace deepseek::chat

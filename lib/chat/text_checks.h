// Text checks of the chat format: caller text must be valid UTF-8, and Python's notion of
// whitespace (the reference parser's regex `\s`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace deepseek::chat {

// Throws kInvalidArgument naming `what` and the byte offset when `text` is not valid UTF-8.
void CheckUtf8(std::string_view text, std::string_view what);

// Python's str.isspace(), which is what `\s` matches in a str pattern.
bool IsPythonSpace(uint32_t cp);

}  // namespace deepseek::chat

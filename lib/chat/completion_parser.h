// Completion text → assistant message, as strictly as the reference parser (FORMAT.md §8).
#pragma once

#include <string_view>

#include "deepseek/chat.h"

namespace deepseek::chat {

// Throws kInvalidArgument saying what is malformed and at which byte.
ChatMessage ParseCompletionText(std::string_view completion, bool thinking);

}  // namespace deepseek::chat

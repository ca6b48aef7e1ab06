// Messages → DeepSeek V4 prompt text, following FORMAT.md §3-§7 step by step.
#pragma once

#include <string>
#include <vector>

#include "chat/message.h"

namespace deepseek::chat {

// The prompt for `messages`; `context` holds earlier, already encoded messages that the
// conversation-wide rules see but that are not rendered. Throws kInvalidArgument for messages
// the format cannot express (a tool call whose arguments are JSON but not an object).
std::string Encode(std::vector<Message> messages, std::vector<Message> context, const EncodeOptions& options);

}  // namespace deepseek::chat

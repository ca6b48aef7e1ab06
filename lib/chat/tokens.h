// The special-token texts of the DeepSeek V4 chat format (FORMAT.md §1) and the DSML tags built
// from them. The tokenizer turns each special-token text into a single id.
#pragma once

#include <cstddef>
#include <string_view>

namespace deepseek::chat {

inline constexpr std::string_view kBos = "<｜begin▁of▁sentence｜>";
inline constexpr std::string_view kEos = "<｜end▁of▁sentence｜>";
inline constexpr std::string_view kUserToken = "<｜User｜>";
inline constexpr std::string_view kAssistantToken = "<｜Assistant｜>";
inline constexpr std::string_view kLatestReminderToken = "<｜latest_reminder｜>";
inline constexpr std::string_view kThinkStart = "<think>";
inline constexpr std::string_view kThinkEnd = "</think>";
inline constexpr std::string_view kDsml = "｜DSML｜";

// Quick-instruction tasks (FORMAT.md §5); each one's token is "<｜" + name + "｜>".
inline constexpr std::string_view kTasks[] = {"action", "query", "authority", "domain", "title", "read_url"};

// DSML tags. Only the ｜DSML｜ part is a special token; the rest is ordinary text.
inline constexpr std::string_view kToolCallsOpen = "<｜DSML｜tool_calls>";
inline constexpr std::string_view kToolCallsClose = "</｜DSML｜tool_calls>";
inline constexpr std::string_view kInvokeOpen = "<｜DSML｜invoke";
inline constexpr std::string_view kInvokeClose = "</｜DSML｜invoke";
inline constexpr std::string_view kParameterOpen = "<｜DSML｜parameter";
inline constexpr std::string_view kParameterClose = "/｜DSML｜parameter";  // the parser reads up to it

// What starts the tool calls in a completion: the blank line before the block and its opening
// tag without the ">" (FORMAT.md §8). The blank line is separator, the rest is the block.
inline constexpr std::string_view kToolCallsStart = "\n\n<｜DSML｜tool_calls";
inline constexpr std::size_t kToolCallsSeparatorSize = 2;

}  // namespace deepseek::chat

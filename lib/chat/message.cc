#include "chat/message.h"

#include <algorithm>

#include "chat/tokens.h"
#include "chat/text_checks.h"
#include "core/error.h"

namespace deepseek::chat {
namespace {

template <typename Range>
std::string JoinNames(const Range& names) {
  std::string out;
  for (std::string_view n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

bool Contains(const auto& names, std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

size_t Occurrences(std::string_view text, std::string_view what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string_view::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// The content with a placeholder per image: where the content names them, or before its text.
std::string WithImagePlaceholders(const ChatMessage& in, std::string content, const std::string& where) {
  const size_t named = Occurrences(content, kImagePlaceholder), images = in.images.size();
  if (images > 0 && in.role != "user") Fail(StatusCode::kInvalidArgument, where + ".images: only user messages carry images");
  if (named == 0) {
    std::string placeholders;
    for (size_t i = 0; i < images; ++i) placeholders += kImagePlaceholder;
    return placeholders + content;
  }
  if (named != images) {
    Fail(StatusCode::kInvalidArgument, where + ".content names " + std::to_string(named) + " image placeholder" +
                                           (named == 1 ? "" : "s") + " (" + kImagePlaceholder + ") but the message has " +
                                           std::to_string(images) + " image" + (images == 1 ? "" : "s"));
  }
  return content;
}

}  // namespace

void CheckMessage(const Message& m) {
  if (!Contains(kRoles, m.role)) {
    Fail(StatusCode::kInvalidArgument,
         m.where + ".role: unknown role '" + m.role + "' (expected one of " + JoinNames(kRoles) + ")");
  }
  if (m.task && !Contains(kTasks, *m.task)) {
    Fail(StatusCode::kInvalidArgument,
         m.where + ".task: unknown task '" + *m.task + "' (expected one of " + JoinNames(kTasks) + ")");
  }
  if (m.role == "developer" && m.content.empty()) {
    Fail(StatusCode::kInvalidArgument, m.where + ": a developer message needs non-empty content");
  }
}

std::vector<PyJson> ToolFunctions(const PyJson& tools, const std::string& where) {
  if (!tools.is_array()) Fail(StatusCode::kInvalidArgument, where + ": expected a list of tools");
  std::vector<PyJson> functions;
  for (std::size_t i = 0; i < tools.items.size(); ++i) {
    const PyJson* function = tools.items[i].is_object() ? tools.items[i].Find("function") : nullptr;
    if (!function || !function->is_object()) {
      Fail(StatusCode::kInvalidArgument,
           where + "[" + std::to_string(i) + "]: expected {\"type\": \"function\", \"function\": {...}}");
    }
    functions.push_back(*function);
  }
  return functions;
}

Message FromChatMessage(const ChatMessage& in, std::string where) {
  Message m;
  m.where = std::move(where);
  const auto text = [&](const std::string& value, const std::string& field) {
    CheckUtf8(value, m.where + "." + field);
    return value;
  };
  m.role = text(in.role, "role");
  m.content = WithImagePlaceholders(in, text(in.content, "content"), m.where);
  m.reasoning_content = text(in.reasoning_content, "reasoning_content");
  m.tool_call_id = text(in.tool_call_id, "tool_call_id");
  for (std::size_t i = 0; i < in.tool_calls.size(); ++i) {
    const std::string field = "tool_calls[" + std::to_string(i) + "]";
    const ToolCall& call = in.tool_calls[i];
    m.tool_calls.push_back({text(call.id, field + ".id"), text(call.name, field + ".name"),
                            text(call.arguments, field + ".arguments")});
  }
  if (!in.tools_json.empty()) {
    m.tools = ToolFunctions(ParseJsonOrFail(in.tools_json, m.where + ".tools_json"), m.where + ".tools_json");
  }
  if (!in.response_format_json.empty()) {
    PyJson format = ParseJsonOrFail(in.response_format_json, m.where + ".response_format_json");
    if (format.Truthy()) m.response_format = std::move(format);
  }
  if (!in.task.empty()) m.task = text(in.task, "task");
  m.wo_eos = in.wo_eos;
  CheckMessage(m);
  return m;
}

}  // namespace deepseek::chat

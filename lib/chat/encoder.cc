#include "chat/encoder.h"

#include <algorithm>
#include <unordered_map>

#include "chat/tokens.h"
#include "core/error.h"

namespace deepseek::chat {
namespace {

// FORMAT.md §4, "Think-Max": emitted before the first message.
constexpr std::string_view kMaxEffortPrefix =
    "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n"
    "You MUST be very thorough in your thinking and comprehensively decompose the problem to resolve the root "
    "cause, rigorously stress-testing your logic against all potential paths, edge cases, and adversarial "
    "scenarios.\n"
    "Explicitly write out your entire deliberation process, documenting every intermediate step, considered "
    "alternative, and rejected hypothesis to ensure absolutely no assumption is left unchecked.\n\n";

// FORMAT.md §6: the tools block, around the schemas.
constexpr std::string_view kToolsHead =
    "## Tools\n\n"
    "You have access to a set of tools to help answer the user's question. You can invoke tools by writing a "
    "\"<｜DSML｜tool_calls>\" block like the following:\n\n"
    "<｜DSML｜tool_calls>\n"
    "<｜DSML｜invoke name=\"$TOOL_NAME\">\n"
    "<｜DSML｜parameter name=\"$PARAMETER_NAME\" string=\"true|false\">$PARAMETER_VALUE</｜DSML｜parameter>\n"
    "...\n"
    "</｜DSML｜invoke>\n"
    "<｜DSML｜invoke name=\"$TOOL_NAME2\">\n"
    "...\n"
    "</｜DSML｜invoke>\n"
    "</｜DSML｜tool_calls>\n\n"
    "String parameters should be specified as is and set `string=\"true\"`. For all other types (numbers, "
    "booleans, arrays, objects), pass the value in JSON format and set `string=\"false\"`.\n\n"
    "If thinking_mode is enabled (triggered by <think>), you MUST output your complete reasoning inside "
    "<think>...</think> BEFORE any tool calls or final response.\n\n"
    "Otherwise, output directly after </think> with tool calls or final response.\n\n"
    "### Available Tool Schemas\n\n";
constexpr std::string_view kToolsTail =
    "\n\nYou MUST strictly follow the above defined tool name and parameter schemas to invoke tool calls.\n";

constexpr std::string_view kResponseFormatHead =
    "## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n";

// ---- §3 preprocessing -------------------------------------------------------------------------

// §3.1: tool results and user text become blocks of user turns; a user turn takes in the tool
// results and task-less user messages that follow it.
std::vector<Message> MergeToolMessages(std::vector<Message> messages) {
  std::vector<Message> merged;
  for (Message& m : messages) {
    if (m.role == "tool") {
      Block block{true, std::move(m.content), std::move(m.tool_call_id)};
      if (!merged.empty() && merged.back().role == "user") {
        merged.back().blocks.push_back(std::move(block));
        continue;
      }
      Message turn;
      turn.where = std::move(m.where);
      turn.role = "user";
      turn.from_context = m.from_context;
      turn.blocks.push_back(std::move(block));
      merged.push_back(std::move(turn));
    } else if (m.role == "user") {
      Block block{false, m.content, {}};
      if (!merged.empty() && merged.back().role == "user" && !merged.back().task) {
        merged.back().blocks.push_back(std::move(block));
        continue;
      }
      // A user message that starts a turn keeps only its text, task and wo_eos.
      Message turn;
      turn.where = std::move(m.where);
      turn.role = "user";
      turn.content = std::move(m.content);
      turn.task = std::move(m.task);
      turn.wo_eos = m.wo_eos;
      turn.from_context = m.from_context;
      turn.blocks.push_back(std::move(block));
      merged.push_back(std::move(turn));
    } else {
      merged.push_back(std::move(m));
    }
  }
  return merged;
}

// §3.2: in a turn with several tool results, the results follow the order of the calls of the
// latest assistant message with tool calls. Unknown ids sort as 0; text blocks keep their slots.
void SortToolResults(std::vector<Message>& messages) {
  std::unordered_map<std::string, std::size_t> call_order;
  for (Message& m : messages) {
    if (m.role == "assistant" && !m.tool_calls.empty()) {
      call_order.clear();
      for (std::size_t i = 0; i < m.tool_calls.size(); ++i) {
        if (!m.tool_calls[i].id.empty()) call_order[m.tool_calls[i].id] = i;
      }
      continue;
    }
    if (m.role != "user" || call_order.empty()) continue;
    std::vector<Block> results;
    for (const Block& b : m.blocks) {
      if (b.tool_result) results.push_back(b);
    }
    if (results.size() < 2) continue;
    const auto position = [&](const Block& b) {
      const auto it = call_order.find(b.tool_call_id);
      return it == call_order.end() ? 0 : it->second;
    };
    std::stable_sort(results.begin(), results.end(),
                     [&](const Block& a, const Block& b) { return position(a) < position(b); });
    std::size_t next = 0;
    for (Block& b : m.blocks) {
      if (b.tool_result) b = std::move(results[next++]);
    }
  }
}

// §3.3: tools anywhere in the conversation keep every turn's reasoning.
bool EffectiveDropThinking(const std::vector<Message>& messages, bool drop_thinking) {
  const bool any_tools =
      std::any_of(messages.begin(), messages.end(), [](const Message& m) { return !m.tools.empty(); });
  return drop_thinking && !any_tools;
}

// Index of the last user or developer message, or -1.
int LastUserIndex(const std::vector<Message>& messages) {
  for (int i = static_cast<int>(messages.size()) - 1; i >= 0; --i) {
    if (messages[i].role == "user" || messages[i].role == "developer") return i;
  }
  return -1;
}

// §3.4: before the last user turn, assistant messages lose their reasoning and developer
// messages disappear.
std::vector<Message> DropThinking(std::vector<Message> messages) {
  const int last_user = LastUserIndex(messages);
  std::vector<Message> kept;
  for (int i = 0; i < static_cast<int>(messages.size()); ++i) {
    Message& m = messages[i];
    if (i < last_user && m.role == "assistant") m.reasoning_content.clear();
    if (i >= last_user || m.role != "developer") kept.push_back(std::move(m));
  }
  return kept;
}

// ---- §4-§7 rendering --------------------------------------------------------------------------

std::string TaskToken(const std::string& task) { return "<｜" + task + "｜>"; }

// §6.
std::string ToolsBlock(const std::vector<PyJson>& functions) {
  std::string out(kToolsHead);
  for (std::size_t i = 0; i < functions.size(); ++i) {
    if (i) out += '\n';
    AppendJson(functions[i], out);
  }
  out += kToolsTail;
  return out;
}

// What follows system and developer content: the tools block and the response format.
std::string ToolsAndResponseFormat(const Message& m) {
  std::string out;
  if (!m.tools.empty()) out += "\n\n" + ToolsBlock(m.tools);
  if (m.response_format) out += "\n\n" + std::string(kResponseFormatHead) + DumpJson(*m.response_format);
  return out;
}

// §7: arguments that are not JSON at all travel as one string parameter named "arguments".
std::vector<PyJson::Member> CallParameters(const ToolCall& call, const std::string& where) {
  std::string error;
  std::optional<PyJson> args;
  try {
    args = ParseJson(call.arguments, &error);
  } catch (const Error& e) {
    Fail(e.code(), where + ": " + e.what());
  }
  if (!args) return {{"arguments", PyJson::String(call.arguments)}};
  if (!args->is_object()) Fail(StatusCode::kInvalidArgument, where + ": the arguments are JSON but not an object");
  return std::move(args->members);
}

std::string Invoke(const ToolCall& call, const std::string& where) {
  std::string out = std::string(kInvokeOpen) + " name=\"" + call.name + "\">\n";
  const auto parameters = CallParameters(call, where);
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    const auto& [name, value] = parameters[i];
    if (i) out += '\n';
    const char* is_string = value.is_string() ? "true" : "false";
    out += std::string(kParameterOpen) + " name=\"" + name + "\" string=\"" + is_string + "\">";
    out += value.is_string() ? value.text : DumpJson(value);
    out += "<" + std::string(kParameterClose) + ">";
  }
  out += "\n" + std::string(kInvokeClose) + ">";
  return out;
}

std::string ToolCallsPart(const Message& m) {
  if (m.tool_calls.empty()) return "";
  std::string out = "\n\n" + std::string(kToolCallsOpen) + "\n";
  for (std::size_t i = 0; i < m.tool_calls.size(); ++i) {
    out += Invoke(m.tool_calls[i], m.where + ".tool_calls[" + std::to_string(i) + "].arguments") + "\n";
  }
  return out + std::string(kToolCallsClose);
}

class Renderer {
 public:
  Renderer(const std::vector<Message>& messages, const EncodeOptions& options)
      : messages_(messages), options_(options), last_user_(LastUserIndex(messages)) {}

  std::string Render(int i) const {
    std::string out;
    if (i == 0 && options_.thinking && options_.max_effort) out += kMaxEffortPrefix;
    const Message& m = messages_[i];
    if (m.role == "system") out += m.content + ToolsAndResponseFormat(m);
    if (m.role == "developer") out += std::string(kUserToken) + m.content + ToolsAndResponseFormat(m);
    if (m.role == "user") out += User(m);
    if (m.role == "latest_reminder") out += std::string(kLatestReminderToken) + m.content;
    if (m.role == "assistant") out += Assistant(i);
    return out + GenerationPrompt(i);
  }

 private:
  static std::string User(const Message& m) {
    std::string out(kUserToken);
    for (std::size_t i = 0; i < m.blocks.size(); ++i) {
      if (i) out += "\n\n";
      const Block& b = m.blocks[i];
      out += b.tool_result ? "<tool_result>" + b.text + "</tool_result>" : b.text;
    }
    return out;
  }

  // {reasoning</think>}{content}{tool calls}<EOS>. <think> itself comes from the previous turn.
  std::string Assistant(int i) const {
    const Message& m = messages_[i];
    const bool after_task = i > 0 && messages_[i - 1].task;
    const bool keeps_reasoning = !options_.drop_thinking || i > last_user_;
    std::string out;
    if (options_.thinking && !after_task && keeps_reasoning) out += m.reasoning_content + std::string(kThinkEnd);
    out += m.content + ToolCallsPart(m);
    if (!m.wo_eos) out += kEos;
    return out;
  }

  // §5: what opens the reply after message i, when a reply comes next.
  std::string GenerationPrompt(int i) const {
    const Message& m = messages_[i];
    if (i + 1 < static_cast<int>(messages_.size())) {
      const std::string& next = messages_[i + 1].role;
      if (next != "assistant" && next != "latest_reminder") return "";
    }
    const std::string think(options_.thinking ? kThinkStart : kThinkEnd);
    if (m.task) {
      if (*m.task == "action") return std::string(kAssistantToken) + think + TaskToken(*m.task);
      return TaskToken(*m.task);
    }
    if (m.role != "user" && m.role != "developer") return "";
    const bool thinks = options_.thinking && (!options_.drop_thinking || i >= last_user_);
    return std::string(kAssistantToken) + std::string(thinks ? kThinkStart : kThinkEnd);
  }

  const std::vector<Message>& messages_;
  const EncodeOptions& options_;
  int last_user_;
};

}  // namespace

std::string Encode(std::vector<Message> messages, std::vector<Message> context, const EncodeOptions& options) {
  const bool has_context = !context.empty();
  for (Message& m : context) m.from_context = true;
  std::vector<Message> all = MergeToolMessages(std::move(context));
  std::vector<Message> merged = MergeToolMessages(std::move(messages));
  all.insert(all.end(), std::make_move_iterator(merged.begin()), std::make_move_iterator(merged.end()));
  SortToolResults(all);

  EncodeOptions effective = options;
  effective.drop_thinking = EffectiveDropThinking(all, options.drop_thinking);
  if (effective.thinking && effective.drop_thinking) all = DropThinking(std::move(all));

  std::string prompt(options.add_bos && !has_context ? kBos : "");
  const Renderer renderer(all, effective);
  for (int i = 0; i < static_cast<int>(all.size()); ++i) {
    if (!all[i].from_context) prompt += renderer.Render(i);
  }
  return prompt;
}

}  // namespace deepseek::chat

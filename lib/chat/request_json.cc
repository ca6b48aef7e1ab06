// The JSON request form (EncodeChatRequestJson, deepseek-chat-encode): the test vectors' input
// objects, with OpenAI-style messages. Every field is type-checked and named in errors.
#include <string>

#include "chat/message.h"
#include "core/error.h"

namespace deepseek::chat {
namespace {

[[noreturn]] void Wrong(const std::string& where, const std::string& expected) {
  Fail(StatusCode::kInvalidArgument, where + ": expected " + expected);
}

// The string at obj[key]; `fallback` when the key is missing or null.
std::string StringField(const PyJson& obj, const char* key, const std::string& where, std::string fallback = "") {
  const PyJson* v = obj.Find(key);
  if (!v || v->is_null()) return fallback;
  if (!v->is_string()) Wrong(where + "." + key, "a string");
  return v->text;
}

bool BoolField(const PyJson& obj, const char* key, const std::string& where, bool fallback) {
  const PyJson* v = obj.Find(key);
  if (!v || v->is_null()) return fallback;
  if (v->kind != PyJson::Kind::kBool) Wrong(where + "." + key, "true or false");
  return v->boolean;
}

// A tool result's content: a string, or a list of parts whose text parts are joined by a blank
// line and whose other parts become "[Unsupported <type>]" (FORMAT.md §4, user).
std::string ToolContent(const PyJson& msg, const std::string& where) {
  const PyJson* content = msg.Find("content");
  if (!content || !content->is_array()) return StringField(msg, "content", where);
  std::string out;
  for (std::size_t i = 0; i < content->items.size(); ++i) {
    const PyJson& part = content->items[i];
    const std::string part_where = where + ".content[" + std::to_string(i) + "]";
    if (!part.is_object()) Wrong(part_where, "a content part object");
    // Python formats a missing type as None.
    const std::string type = StringField(part, "type", part_where, "None");
    if (i) out += "\n\n";
    out += type == "text" ? StringField(part, "text", part_where) : "[Unsupported " + type + "]";
  }
  return out;
}

std::vector<ToolCall> ToolCalls(const PyJson& msg, const std::string& where) {
  const PyJson* calls = msg.Find("tool_calls");
  if (!calls || calls->is_null()) return {};
  if (!calls->is_array()) Wrong(where + ".tool_calls", "a list");
  std::vector<ToolCall> out;
  for (std::size_t i = 0; i < calls->items.size(); ++i) {
    const PyJson& call = calls->items[i];
    const std::string call_where = where + ".tool_calls[" + std::to_string(i) + "]";
    const PyJson* function = call.is_object() ? call.Find("function") : nullptr;
    if (!function || !function->is_object()) Wrong(call_where, "{\"function\": {\"name\", \"arguments\"}}");
    const std::string function_where = call_where + ".function";
    if (!function->Find("name")) Wrong(function_where + ".name", "a string");
    if (!function->Find("arguments")) Wrong(function_where + ".arguments", "a string");
    ToolCall out_call;
    // The reference takes the call id from the call, else from its function.
    out_call.id = StringField(call, "id", call_where);
    if (out_call.id.empty()) out_call.id = StringField(*function, "id", function_where);
    out_call.name = StringField(*function, "name", function_where);
    out_call.arguments = StringField(*function, "arguments", function_where);
    out.push_back(std::move(out_call));
  }
  return out;
}

Message MessageFromJson(const PyJson& msg, std::string where) {
  if (!msg.is_object()) Wrong(where, "a message object");
  Message m;
  m.where = std::move(where);
  const PyJson* role = msg.Find("role");
  if (!role || !role->is_string()) Wrong(m.where + ".role", "a string");
  m.role = role->text;
  m.content = m.role == "tool" ? ToolContent(msg, m.where) : StringField(msg, "content", m.where);
  m.reasoning_content = StringField(msg, "reasoning_content", m.where);
  m.tool_calls = ToolCalls(msg, m.where);
  m.tool_call_id = StringField(msg, "tool_call_id", m.where);
  if (const PyJson* tools = msg.Find("tools"); tools && !tools->is_null()) {
    m.tools = ToolFunctions(*tools, m.where + ".tools");
  }
  if (const PyJson* format = msg.Find("response_format"); format && format->Truthy()) m.response_format = *format;
  if (const PyJson* task = msg.Find("task"); task && !task->is_null()) m.task = StringField(msg, "task", m.where);
  m.wo_eos = BoolField(msg, "wo_eos", m.where, false);
  CheckMessage(m);
  return m;
}

std::vector<Message> MessageList(const PyJson& list, const std::string& name) {
  if (!list.is_array()) Wrong(name, "a list of messages");
  std::vector<Message> out;
  for (std::size_t i = 0; i < list.items.size(); ++i) {
    out.push_back(MessageFromJson(list.items[i], name + "[" + std::to_string(i) + "]"));
  }
  return out;
}

}  // namespace

Request RequestFromJson(std::string_view json) {
  const PyJson root = ParseJsonOrFail(json, "request");
  if (!root.is_object()) Wrong("request", "a JSON object");
  for (const auto& [key, value] : root.members) {
    if (key != "messages" && key != "tools" && key != "thinking_mode" && key != "reasoning_effort" &&
        key != "drop_thinking" && key != "add_default_bos_token" && key != "context" && key != "description") {
      Fail(StatusCode::kInvalidArgument, "request: unknown field '" + key + "'");
    }
  }
  Request request;
  const PyJson* messages = root.Find("messages");
  if (!messages) Wrong("request.messages", "a list of messages");
  request.messages = MessageList(*messages, "messages");

  // The official harness passes a top-level tools list by attaching it to the first message.
  if (const PyJson* tools = root.Find("tools"); tools && !tools->is_null()) {
    if (request.messages.empty()) Fail(StatusCode::kInvalidArgument, "request.tools: no message to attach them to");
    if (messages->items[0].Find("tools")) Fail(StatusCode::kInvalidArgument, "request.tools: messages[0] has its own");
    request.messages[0].tools = ToolFunctions(*tools, "request.tools");
  }
  if (const PyJson* context = root.Find("context"); context && !context->is_null()) {
    request.context = MessageList(*context, "context");
  }

  EncodeOptions& options = request.options;
  const std::string mode = StringField(root, "thinking_mode", "request");
  if (mode != "chat" && mode != "thinking") Wrong("request.thinking_mode", "\"chat\" or \"thinking\"");
  options.thinking = mode == "thinking";
  if (const PyJson* effort = root.Find("reasoning_effort"); effort && !effort->is_null()) {
    if (!effort->is_string() || (effort->text != "high" && effort->text != "max")) {
      Wrong("request.reasoning_effort", "null, \"high\" or \"max\"");
    }
    options.max_effort = effort->text == "max";
  }
  options.drop_thinking = BoolField(root, "drop_thinking", "request", true);
  options.add_bos = BoolField(root, "add_default_bos_token", "request", true);
  return request;
}

}  // namespace deepseek::chat

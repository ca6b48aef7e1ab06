// The chat format: modes, C messages -> C++ messages, prompt encoding and completion parsing.
#include <algorithm>

#include "internal.h"

namespace deepseek::capi {
namespace {

// The defaults of the whole current layout; the exported ds_chat_message_init fills only the
// 1.3 one.
void InitMessage(ds_chat_message* message) { ds_chat_message_init_sized(message, sizeof *message); }

}  // namespace

ChatFormatOptions ToFormat(const ds_chat_format_params* params) {
  const ds_chat_format_params p = ReadStruct(params, ds_chat_format_params_init, "ds_chat_format_params");
  ChatFormatOptions options;
  switch (const int32_t mode = EnumValue(p.mode)) {
    case DS_CHAT_MODE_FAST: options.mode = ChatMode::kFast; break;
    case DS_CHAT_MODE_EXPERT: options.mode = ChatMode::kExpert; break;
    case DS_CHAT_MODE_EXPERT_MAX: options.mode = ChatMode::kExpertMax; break;
    default: Fail(StatusCode::kInvalidArgument, "unknown ds_chat_mode " + std::to_string(mode));
  }
  options.drop_thinking = p.drop_thinking != 0;
  options.add_bos = p.add_bos != 0;
  return options;
}

std::vector<ChatMessage> ToMessages(const ds_chat_message* messages, size_t count, const char* what) {
  std::vector<ChatMessage> out;
  out.reserve(count);
  size_t index = 0;
  for (const ds_chat_message& m : ReadArray(messages, count, InitMessage, what)) {
    ChatMessage message{
        .role = Str(m.role),
        .content = Str(m.content),
        .reasoning_content = Str(m.reasoning_content),
        .tool_calls = {},
        .tool_call_id = Str(m.tool_call_id),
        .tools_json = Str(m.tools_json),
        .response_format_json = Str(m.response_format_json),
        .task = Str(m.task),
        .wo_eos = m.wo_eos != 0,
    };
    const std::string where = std::string(what) + "[" + std::to_string(index++) + "]";
    for (const ds_tool_call& c : ReadArray(m.tool_calls, m.n_tool_calls, ds_tool_call_init, (where + ".tool_calls").c_str()))
      message.tool_calls.push_back(ToolCall{.id = Str(c.id), .name = Str(c.name), .arguments = Str(c.arguments)});
    if (m.n_images) Require(m.images, (where + ".images").c_str());
    for (size_t i = 0; i < m.n_images; ++i)
      message.images.push_back(Require(m.images[i], (where + ".images[" + std::to_string(i) + "]").c_str())->image);
    out.push_back(std::move(message));
  }
  return out;
}

}  // namespace deepseek::capi

using namespace deepseek::capi;
using deepseek::ChatMode;

extern "C" {

const char* ds_chat_mode_name(ds_chat_mode mode) DS_NOEXCEPT {
  switch (EnumValue(mode)) {
    case DS_CHAT_MODE_FAST: return deepseek::ChatModeName(ChatMode::kFast);
    case DS_CHAT_MODE_EXPERT: return deepseek::ChatModeName(ChatMode::kExpert);
    case DS_CHAT_MODE_EXPERT_MAX: return deepseek::ChatModeName(ChatMode::kExpertMax);
  }
  return "unknown";
}

ds_status ds_chat_mode_parse(const char* name, ds_chat_mode* mode) DS_NOEXCEPT {
  return Guard([&] {
    Require(mode, "mode");
    switch (Unwrap(deepseek::ParseChatMode(Require(name, "name")))) {
      case ChatMode::kFast: *mode = DS_CHAT_MODE_FAST; break;
      case ChatMode::kExpert: *mode = DS_CHAT_MODE_EXPERT; break;
      case ChatMode::kExpertMax: *mode = DS_CHAT_MODE_EXPERT_MAX; break;
    }
  });
}

void ds_tool_call_init(ds_tool_call* call) DS_NOEXCEPT {
  if (!call) return;
  *call = ds_tool_call{};
  call->struct_size = sizeof *call;
}

void ds_chat_message_init_sized(ds_chat_message* message, size_t size) DS_NOEXCEPT {
  // Too small to hold struct_size: nothing can be written. Other sizes below the first layout
  // are written as asked and refused, with their size, by the calls that read the message.
  if (!message || size < sizeof message->struct_size) return;
  ds_chat_message defaults{};
  defaults.struct_size = size;
  std::memset(static_cast<void*>(message), 0, size);
  std::memcpy(static_cast<void*>(message), &defaults, std::min(size, sizeof defaults));
}

// Parenthesised, because deepseek.h defines a macro of this name for callers compiled against it.
void(ds_chat_message_init)(ds_chat_message* message) DS_NOEXCEPT {
  ds_chat_message_init_sized(message, kFirstLayoutSize<ds_chat_message>);
}

void ds_chat_format_params_init(ds_chat_format_params* params) DS_NOEXCEPT {
  if (!params) return;
  *params = ds_chat_format_params{};
  params->struct_size = sizeof *params;
  params->mode = DS_CHAT_MODE_EXPERT;
  params->drop_thinking = 1;
  params->add_bos = 1;
}

ds_status ds_chat_encode(const ds_chat_message* messages, size_t n_messages, const ds_chat_message* context,
                         size_t n_context, const ds_chat_format_params* params, char* prompt, size_t capacity,
                         size_t* prompt_len) DS_NOEXCEPT {
  return Guard([&] {
    const std::vector<deepseek::ChatMessage> list = ToMessages(messages, n_messages, "messages");
    const std::vector<deepseek::ChatMessage> earlier = ToMessages(context, n_context, "context");
    const std::string text = Unwrap(deepseek::EncodeChat(list, ToFormat(params), earlier));
    CopyText(text, prompt, capacity, prompt_len);
  });
}

ds_status ds_chat_encode_json(const char* request_json, size_t request_len, char* prompt, size_t capacity,
                              size_t* prompt_len) DS_NOEXCEPT {
  return Guard([&] {
    if (request_len) Require(request_json, "request_json");
    const std::string text =
        Unwrap(deepseek::EncodeChatRequestJson(std::string_view(request_json ? request_json : "", request_len)));
    CopyText(text, prompt, capacity, prompt_len);
  });
}

ds_status ds_chat_parse(const char* completion, size_t completion_len, int thinking, ds_reply** out) DS_NOEXCEPT {
  return Guard([&] {
    Require(out, "out");
    if (completion_len) Require(completion, "completion");
    auto reply = std::make_unique<ds_reply>();
    reply->message =
        Unwrap(deepseek::ParseCompletion(std::string_view(completion ? completion : "", completion_len), thinking != 0));
    reply->generation.text.assign(completion ? completion : "", completion_len);
    reply->json = deepseek::ChatMessageToJson(reply->message);
    *out = reply.release();
  });
}

}  // extern "C"

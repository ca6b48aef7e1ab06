// Generators (chat and raw-token generation, streamed, cancellable) and the replies they give.
#include "internal.h"

namespace deepseek::capi {
namespace {

GenerationParams ToGeneration(const ds_generation_params* params) {
  const ds_generation_params p = ReadStruct(params, ds_generation_params_init, "ds_generation_params");
  GenerationParams out;
  out.sampling = ToSampling(p.sampling);
  out.max_tokens = p.max_tokens;
  if (p.n_stop_strings) Require(p.stop_strings, "ds_generation_params.stop_strings");
  for (size_t i = 0; i < p.n_stop_strings; ++i)
    out.stop_strings.emplace_back(Require(p.stop_strings[i], "ds_generation_params.stop_strings[i]"));
  if (p.n_stop_tokens) Require(p.stop_tokens, "ds_generation_params.stop_tokens");
  out.stop_tokens.assign(p.stop_tokens, p.stop_tokens + p.n_stop_tokens);
  out.ignore_eos = p.ignore_eos != 0;
  return out;
}

ds_channel ToChannel(ChatChannel channel) {
  switch (channel) {
    case ChatChannel::kReasoning: return DS_CHANNEL_REASONING;
    case ChatChannel::kContent: return DS_CHANNEL_CONTENT;
    case ChatChannel::kToolCall: return DS_CHANNEL_TOOL_CALL;
  }
  return DS_CHANNEL_CONTENT;
}

StreamCallback ToCallback(ds_stream_fn on_event, void* user_data) {
  if (!on_event) return {};
  return [on_event, user_data](const StreamEvent& e) {
    // The C callback is promised a NUL-terminated copy; a piece is a few bytes.
    const std::string text(e.text);
    return on_event(e.token, text.c_str(), text.size(), ToChannel(e.channel), user_data) == 0;
  };
}

const char* Lend(const std::string& s, size_t* len) {
  if (len) *len = s.size();
  return s.c_str();
}

}  // namespace
}  // namespace deepseek::capi

using namespace deepseek::capi;
using deepseek::FinishReason;

extern "C" {

const char* ds_finish_reason_name(ds_finish_reason reason) DS_NOEXCEPT {
  switch (EnumValue(reason)) {
    case DS_FINISH_EOS: return deepseek::FinishReasonName(FinishReason::kEos);
    case DS_FINISH_STOP_STRING: return deepseek::FinishReasonName(FinishReason::kStopString);
    case DS_FINISH_MAX_TOKENS: return deepseek::FinishReasonName(FinishReason::kMaxTokens);
    case DS_FINISH_CONTEXT_FULL: return deepseek::FinishReasonName(FinishReason::kContextFull);
    case DS_FINISH_CANCELLED: return deepseek::FinishReasonName(FinishReason::kCancelled);
  }
  return "unknown";
}

void ds_generation_params_init(ds_generation_params* params) DS_NOEXCEPT {
  if (!params) return;
  const deepseek::GenerationParams defaults;
  *params = ds_generation_params{};
  params->struct_size = sizeof *params;
  params->max_tokens = defaults.max_tokens;
  params->ignore_eos = defaults.ignore_eos ? 1 : 0;
}

ds_status ds_generator_create(const ds_model* model, const ds_tokenizer* tokenizer, const ds_session_params* params,
                              ds_generator** out) DS_NOEXCEPT {
  return Guard([&] {
    Require(out, "out");
    Require(model, "model");
    Require(tokenizer, "tokenizer");
    deepseek::GeneratorOptions options;
    options.session = ToSessionOptions(params);
    const ds_session_params p = ReadStruct(params, ds_session_params_init, "ds_session_params");
    options.speculative = p.speculative != 0;
    if (p.batcher) options.batcher = p.batcher->batcher;
    auto handle = std::make_unique<ds_generator>();
    handle->generator = Unwrap(deepseek::Generator::Create(model->model, tokenizer->tokenizer, options));
    *out = handle.release();
  });
}

void ds_generator_destroy(ds_generator* generator) DS_NOEXCEPT { delete generator; }

ds_status ds_generator_chat(ds_generator* generator, const ds_chat_message* messages, size_t n_messages,
                            const ds_chat_format_params* format, const ds_generation_params* params,
                            ds_stream_fn on_event, void* user_data, ds_reply** out) DS_NOEXCEPT {
  return Guard([&] {
    Require(generator, "generator");
    Require(out, "out");
    const std::vector<deepseek::ChatMessage> list = ToMessages(messages, n_messages, "messages");
    deepseek::ChatReply result = Unwrap(generator->generator->Chat(list, ToFormat(format), ToGeneration(params),
                                                                   ToCallback(on_event, user_data)));
    auto reply = std::make_unique<ds_reply>();
    reply->message = std::move(result.message);
    reply->parse_status = std::move(result.parse_status);
    reply->generation = std::move(result.generation);
    reply->json = deepseek::ChatMessageToJson(reply->message);
    *out = reply.release();
  });
}

ds_status ds_generator_generate(ds_generator* generator, const int32_t* prompt, size_t n_prompt,
                                const ds_generation_params* params, ds_stream_fn on_event, void* user_data,
                                ds_reply** out) DS_NOEXCEPT {
  return Guard([&] {
    Require(generator, "generator");
    Require(out, "out");
    if (n_prompt) Require(prompt, "prompt");
    auto reply = std::make_unique<ds_reply>();
    reply->generation = Unwrap(
        generator->generator->Generate({prompt, n_prompt}, ToGeneration(params), ToCallback(on_event, user_data)));
    reply->message.role = "assistant";
    reply->message.content = reply->generation.text;
    reply->json = deepseek::ChatMessageToJson(reply->message);
    *out = reply.release();
  });
}

void ds_generator_cancel(ds_generator* generator) DS_NOEXCEPT {
  if (generator) generator->generator->Cancel();
}

void ds_reply_destroy(ds_reply* reply) DS_NOEXCEPT { delete reply; }

const char* ds_reply_content(const ds_reply* reply, size_t* len) DS_NOEXCEPT {
  return reply ? Lend(reply->message.content, len) : nullptr;
}

const char* ds_reply_reasoning(const ds_reply* reply, size_t* len) DS_NOEXCEPT {
  return reply ? Lend(reply->message.reasoning_content, len) : nullptr;
}

const char* ds_reply_text(const ds_reply* reply, size_t* len) DS_NOEXCEPT {
  return reply ? Lend(reply->generation.text, len) : nullptr;
}

const char* ds_reply_json(const ds_reply* reply, size_t* len) DS_NOEXCEPT {
  return reply ? Lend(reply->json, len) : nullptr;
}

size_t ds_reply_tool_call_count(const ds_reply* reply) DS_NOEXCEPT {
  return reply ? reply->message.tool_calls.size() : 0;
}

ds_status ds_reply_tool_call(const ds_reply* reply, size_t index, ds_tool_call* call) DS_NOEXCEPT {
  return Guard([&] {
    const std::vector<deepseek::ToolCall>& calls = Require(reply, "reply")->message.tool_calls;
    if (index >= calls.size())
      deepseek::Fail(deepseek::StatusCode::kOutOfRange, "tool call " + std::to_string(index) + " of " +
                                                            std::to_string(calls.size()));
    ds_tool_call full;
    ds_tool_call_init(&full);
    full.id = calls[index].id.c_str();
    full.name = calls[index].name.c_str();
    full.arguments = calls[index].arguments.c_str();
    WriteStruct(full, call, "ds_tool_call");
  });
}

const int32_t* ds_reply_tokens(const ds_reply* reply, size_t* n_tokens) DS_NOEXCEPT {
  const size_t n = reply ? reply->generation.tokens.size() : 0;
  if (n_tokens) *n_tokens = n;
  return n ? reply->generation.tokens.data() : nullptr;
}

ds_finish_reason ds_reply_finish_reason(const ds_reply* reply) DS_NOEXCEPT {
  if (!reply) return DS_FINISH_EOS;
  switch (reply->generation.finish) {
    case FinishReason::kEos: return DS_FINISH_EOS;
    case FinishReason::kStopString: return DS_FINISH_STOP_STRING;
    case FinishReason::kMaxTokens: return DS_FINISH_MAX_TOKENS;
    case FinishReason::kContextFull: return DS_FINISH_CONTEXT_FULL;
    case FinishReason::kCancelled: return DS_FINISH_CANCELLED;
  }
  return DS_FINISH_EOS;
}

ds_status ds_reply_stats(const ds_reply* reply, ds_generation_stats* stats) DS_NOEXCEPT {
  return Guard([&] {
    const deepseek::GenerationStats& s = Require(reply, "reply")->generation.stats;
    ds_generation_stats full{};
    full.struct_size = sizeof full;
    full.prompt_tokens = s.prompt_tokens;
    full.reused_tokens = s.reused_tokens;
    full.generated_tokens = s.generated_tokens;
    full.prefill_seconds = s.prefill_seconds;
    full.decode_seconds = s.decode_seconds;
    full.prefill_tokens_per_second = s.prefill_tokens_per_second();
    full.decode_tokens_per_second = s.decode_tokens_per_second();
    full.drafted_tokens = s.drafted_tokens;
    full.accepted_drafts = s.accepted_drafts;
    WriteStruct(full, stats, "ds_generation_stats");
  });
}

ds_status ds_reply_parse_status(const ds_reply* reply, const char** message) DS_NOEXCEPT {
  if (!reply) {
    if (message) *message = "reply is NULL";
    return DS_INVALID_ARGUMENT;
  }
  if (message) *message = reply->parse_status.message().c_str();
  return static_cast<ds_status>(reply->parse_status.code());
}

}  // extern "C"

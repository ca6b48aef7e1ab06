// The public structs' layouts, frozen: any change of size or offset fails the build here, before
// abidiff sees it. A field added at the end needs its own line and a new `last` field in the
// sizeof check; moving or resizing an existing field is an ABI break (DS_ABI_VERSION_MAJOR).
// Every struct ends without padding, so sizeof equals the end of its last field (the arrays of
// messages and tool calls are strided by struct_size == sizeof).
#include <cstddef>

#include "deepseek.h"
#include "internal.h"

#define DS_FIELD(type, field, offset) static_assert(offsetof(type, field) == (offset), #type "." #field)
#define DS_ENDS_WITH(type, last, size)                                                      \
  static_assert(sizeof(type) == (size), "sizeof " #type);                                  \
  static_assert(offsetof(type, last) + sizeof(type::last) == sizeof(type), #type " has tail padding")

// The enums are stored in structs and passed by value: they must stay int-sized.
static_assert(sizeof(ds_status) == 4 && sizeof(ds_chat_mode) == 4 && sizeof(ds_channel) == 4 &&
              sizeof(ds_finish_reason) == 4);
static_assert(sizeof(size_t) == 8 && sizeof(void*) == 8, "the layouts below are for LP64 targets");

DS_FIELD(ds_model_load_params, progress, 8);
DS_FIELD(ds_model_load_params, progress_user_data, 16);
DS_ENDS_WITH(ds_model_load_params, progress_user_data, 24);

DS_FIELD(ds_model_config, model_type, 8);
DS_FIELD(ds_model_config, vocab_size, 16);
DS_FIELD(ds_model_config, hidden_size, 24);
DS_FIELD(ds_model_config, n_layers, 32);
DS_FIELD(ds_model_config, window, 68);
DS_FIELD(ds_model_config, compress_ratios, 72);
DS_FIELD(ds_model_config, n_compress_ratios, 80);
DS_FIELD(ds_model_config, rope_theta, 88);
DS_FIELD(ds_model_config, max_positions, 136);
DS_FIELD(ds_model_config, index_heads, 144);
DS_FIELD(ds_model_config, n_shared_experts, 164);
DS_FIELD(ds_model_config, moe_inter_dim, 168);
DS_FIELD(ds_model_config, scoring_func, 176);
DS_FIELD(ds_model_config, norm_topk_prob, 200);
DS_FIELD(ds_model_config, bos_token_id, 212);
DS_FIELD(ds_model_config, hc_eps, 216);
DS_FIELD(ds_model_config, eos_token_id, 232);
DS_FIELD(ds_model_config, expert_dtype, 240);
DS_ENDS_WITH(ds_model_config, weight_bytes, 256);

DS_FIELD(ds_tool_call, id, 8);
DS_FIELD(ds_tool_call, name, 16);
DS_ENDS_WITH(ds_tool_call, arguments, 32);

DS_FIELD(ds_chat_message, role, 8);
DS_FIELD(ds_chat_message, content, 16);
DS_FIELD(ds_chat_message, reasoning_content, 24);
DS_FIELD(ds_chat_message, tool_calls, 32);
DS_FIELD(ds_chat_message, n_tool_calls, 40);
DS_FIELD(ds_chat_message, tool_call_id, 48);
DS_FIELD(ds_chat_message, tools_json, 56);
DS_FIELD(ds_chat_message, response_format_json, 64);
DS_FIELD(ds_chat_message, task, 72);
DS_FIELD(ds_chat_message, wo_eos, 80);
DS_FIELD(ds_chat_message, reserved0, 84);
DS_FIELD(ds_chat_message, images, 88);
DS_ENDS_WITH(ds_chat_message, n_images, 104);

DS_FIELD(ds_chat_format_params, mode, 8);
DS_FIELD(ds_chat_format_params, drop_thinking, 12);
DS_FIELD(ds_chat_format_params, add_bos, 16);
DS_ENDS_WITH(ds_chat_format_params, reserved0, 24);

DS_FIELD(ds_logit_bias, bias, 4);
DS_ENDS_WITH(ds_logit_bias, bias, 8);

DS_FIELD(ds_sampling_params, temperature, 8);
DS_FIELD(ds_sampling_params, top_k, 12);
DS_FIELD(ds_sampling_params, top_p, 16);
DS_FIELD(ds_sampling_params, min_p, 20);
DS_FIELD(ds_sampling_params, repetition_penalty, 24);
DS_FIELD(ds_sampling_params, presence_penalty, 28);
DS_FIELD(ds_sampling_params, frequency_penalty, 32);
DS_FIELD(ds_sampling_params, logit_bias, 40);
DS_FIELD(ds_sampling_params, n_logit_bias, 48);
DS_ENDS_WITH(ds_sampling_params, seed, 64);

DS_FIELD(ds_session_params, num_threads, 8);
DS_FIELD(ds_session_params, enable_mtp, 12);
DS_FIELD(ds_session_params, max_context, 16);
DS_FIELD(ds_session_params, prefill_chunk, 24);
DS_FIELD(ds_session_params, progress, 32);
DS_FIELD(ds_session_params, progress_user_data, 40);
DS_FIELD(ds_session_params, kv_cache, 48);
DS_FIELD(ds_session_params, speculative, 56);
DS_FIELD(ds_session_params, reserved, 60);
DS_ENDS_WITH(ds_session_params, batcher, 72);

DS_FIELD(ds_kv_cache_params, budget_bytes, 8);
DS_FIELD(ds_kv_cache_params, tier_dir, 16);
DS_ENDS_WITH(ds_kv_cache_params, ram_bytes, 32);
DS_FIELD(ds_kv_cache_stats, budget_bytes, 8);
DS_FIELD(ds_kv_cache_stats, bytes_in_use, 16);
DS_FIELD(ds_kv_cache_stats, bytes_storage, 24);
DS_FIELD(ds_kv_cache_stats, tokens_available, 32);
// Older layouts of grown structs, still accepted (kFirstLayoutSize in internal.h).
static_assert(deepseek::capi::kFirstLayoutSize<ds_session_params> == offsetof(ds_session_params, kv_cache));
static_assert(deepseek::capi::kFirstLayoutSize<ds_kv_cache_params> == offsetof(ds_kv_cache_params, tier_dir));
static_assert(deepseek::capi::kFirstLayoutSize<ds_kv_cache_stats> == offsetof(ds_kv_cache_stats, bytes_tiered));
static_assert(deepseek::capi::kFirstLayoutSize<ds_generation_stats> == offsetof(ds_generation_stats, drafted_tokens));
static_assert(deepseek::capi::kFirstLayoutSize<ds_chat_message> == offsetof(ds_chat_message, images));
DS_ENDS_WITH(ds_kv_cache_stats, bytes_tiered, 48);

DS_FIELD(ds_generation_params, sampling, 8);
DS_FIELD(ds_generation_params, max_tokens, 16);
DS_FIELD(ds_generation_params, stop_strings, 24);
DS_FIELD(ds_generation_params, n_stop_strings, 32);
DS_FIELD(ds_generation_params, stop_tokens, 40);
DS_FIELD(ds_generation_params, n_stop_tokens, 48);
DS_FIELD(ds_generation_params, ignore_eos, 56);
DS_ENDS_WITH(ds_generation_params, reserved0, 64);

DS_FIELD(ds_video_params, frame_stride, 8);
DS_ENDS_WITH(ds_video_params, max_visual_tokens, 24);

DS_FIELD(ds_generation_stats, prompt_tokens, 8);
DS_FIELD(ds_generation_stats, reused_tokens, 16);
DS_FIELD(ds_generation_stats, generated_tokens, 24);
DS_FIELD(ds_generation_stats, prefill_seconds, 32);
DS_FIELD(ds_generation_stats, decode_seconds, 40);
DS_FIELD(ds_generation_stats, prefill_tokens_per_second, 48);
DS_FIELD(ds_generation_stats, decode_tokens_per_second, 56);
DS_FIELD(ds_generation_stats, drafted_tokens, 64);
DS_ENDS_WITH(ds_generation_stats, accepted_drafts, 80);

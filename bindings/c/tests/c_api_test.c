/* The C ABI as a C99 program sees it: compiled with -std=c99 -pedantic -Werror, it calls every
 * function of deepseek.h against the tiny checkpoint (argv[1]) and checks the error paths:
 * NULL handles, bad parameters, wrong struct_size, a missing model folder. Images and video,
 * which need a V4.1 checkpoint, are c_api_vision_test.c's. */
#define _POSIX_C_SOURCE 200809L /* pthreads: cancellation comes from another thread */

#include <deepseek.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

/* Layout guards that C itself can state (C99 has no _Static_assert: a negative array size). */
typedef char assert_message_size[sizeof(ds_chat_message) == 104 ? 1 : -1];
typedef char assert_config_size[sizeof(ds_model_config) == 256 ? 1 : -1];

static void test_versions(void) {
  CHECK(ds_version() == DS_VERSION_NUMBER);
  CHECK(strcmp(ds_version_string(), DS_VERSION_STRING) == 0);
  CHECK(ds_abi_version() / 1000 == DS_ABI_VERSION_MAJOR && ds_abi_version() >= DS_ABI_VERSION);
  CHECK(strcmp(ds_status_string(DS_OK), "OK") == 0);
  CHECK(strcmp(ds_status_string(DS_CANCELLED), "CANCELLED") == 0);
  CHECK(strcmp(ds_status_string((ds_status)99), "UNKNOWN") == 0);
}

static int progress_calls = 0;
static void on_load(float fraction, const char *stage, void *user_data) {
  CHECK(fraction >= 0.0f && fraction <= 1.0f && stage != NULL);
  CHECK(user_data == &progress_calls);
  ++progress_calls;
}

static ds_model *test_model(const char *dir) {
  ds_model *model = NULL;
  ds_model_load_params params;
  struct {
    ds_model_load_params p;
    uint64_t newer_field; /* what a caller built against a newer header would pass */
  } newer;
  ds_model_config config;
  char missing[4096];

  CHECK_FAILS(ds_model_load(NULL, NULL, &model), DS_INVALID_ARGUMENT, "dir");
  CHECK_FAILS(ds_model_load(dir, NULL, NULL), DS_INVALID_ARGUMENT, "out");
  snprintf(missing, sizeof missing, "%s/no-such-model", dir);
  CHECK(ds_model_load(missing, NULL, &model) != DS_OK);
  CHECK(strstr(ds_last_error(), "no-such-model") != NULL);
  CHECK(model == NULL);

  ds_model_load_params_init(&params);
  CHECK(params.struct_size == sizeof params && params.progress == NULL);
  params.struct_size = 4;
  CHECK_FAILS(ds_model_load(dir, &params, &model), DS_INVALID_ARGUMENT, "struct_size");
  ds_model_load_params_init(&newer.p);
  newer.p.struct_size = sizeof newer;
  newer.newer_field = 7;
  CHECK_FAILS(ds_model_load(dir, &newer.p, &model), DS_UNSUPPORTED, "struct_size");
  CHECK(model == NULL);
  newer.newer_field = 0; /* a zero tail is the newer header's default: accepted */
  newer.p.progress = on_load;
  newer.p.progress_user_data = &progress_calls;
  CHECK_OK(ds_model_load(dir, &newer.p, &model));
  CHECK(model != NULL && progress_calls > 0);
  CHECK(strcmp(ds_last_error(), "") == 0);

  config.struct_size = sizeof config;
  CHECK_OK(ds_model_get_config(model, &config));
  CHECK(strcmp(config.model_type, "deepseek_v4") == 0);
  CHECK(config.vocab_size > 0 && config.n_layers > 0 && config.hidden_size > 0);
  CHECK(config.n_compress_ratios == (size_t)(config.n_layers + config.n_mtp_layers));
  CHECK(config.compress_ratios != NULL && config.weight_bytes > 0);
  config.struct_size = 1;
  CHECK_FAILS(ds_model_get_config(model, &config), DS_INVALID_ARGUMENT, "struct_size");
  config.struct_size = sizeof config;
  CHECK_FAILS(ds_model_get_config(NULL, &config), DS_INVALID_ARGUMENT, "model");
  ds_model_destroy(NULL);
  return model;
}

static ds_tokenizer *test_tokenizer(const char *dir) {
  ds_tokenizer *tok = NULL;
  const char *text = "Hello, world! 123";
  int32_t ids[64];
  size_t n = 0, len = 0;
  char buf[256];
  int32_t user = -1;

  CHECK(ds_tokenizer_load("/nonexistent/tokenizer.json", &tok) != DS_OK);
  CHECK(strstr(ds_last_error(), "/nonexistent/tokenizer.json") != NULL);
  CHECK_OK(ds_tokenizer_load(dir, &tok));
  CHECK(ds_tokenizer_vocab_size(tok) > 256 && ds_tokenizer_vocab_size(NULL) == 0);

  CHECK_OK(ds_tokenize(tok, text, strlen(text), NULL, 0, &n)); /* size query */
  CHECK(n > 0 && n < 64);
  CHECK_FAILS(ds_tokenize(tok, text, strlen(text), ids, 1, &n), DS_OUT_OF_RANGE, "buffer");
  CHECK_OK(ds_tokenize(tok, text, strlen(text), ids, 64, &n));
  CHECK_FAILS(ds_tokenize(tok, "\xff", 1, ids, 64, &n), DS_INVALID_ARGUMENT, "UTF-8");
  CHECK_FAILS(ds_tokenize(NULL, text, 1, ids, 64, &n), DS_INVALID_ARGUMENT, "tokenizer");

  CHECK_OK(ds_detokenize(tok, ids, n, 0, NULL, 0, &len));
  CHECK(len == strlen(text));
  CHECK_FAILS(ds_detokenize(tok, ids, n, 0, buf, len, &len), DS_OUT_OF_RANGE, "buffer"); /* no room for NUL */
  CHECK_OK(ds_detokenize(tok, ids, n, 0, buf, sizeof buf, &len));
  CHECK(strcmp(buf, text) == 0);

  CHECK_OK(ds_token_bytes(tok, ids[0], buf, sizeof buf, &len));
  CHECK(len >= 1 && memcmp(buf, text, len) == 0); /* the first token's bytes start the text */
  CHECK_FAILS(ds_token_bytes(tok, -1, buf, sizeof buf, &len), DS_INVALID_ARGUMENT, "-1");

  CHECK_OK(ds_token_id(tok, "<｜end▁of▁sentence｜>", &user));
  CHECK(ds_token_is_special(tok, user) == 1);
  CHECK_OK(ds_token_id(tok, "<｜User｜>", &user));
  CHECK(ds_token_is_special(tok, user) == 0 && ds_token_is_special(NULL, user) == 0);
  CHECK_FAILS(ds_token_id(tok, "no such token text", &user), DS_NOT_FOUND, "no such token text");
  ds_tokenizer_destroy(NULL);
  return tok;
}

static void test_chat_format(void) {
  ds_chat_message msgs[2];
  ds_tool_call call;
  ds_chat_format_params fmt;
  ds_chat_mode mode = DS_CHAT_MODE_FAST;
  char prompt[4096];
  size_t len = 0;
  const char *request = "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"thinking_mode\": \"chat\"}";

  CHECK(strcmp(ds_chat_mode_name(DS_CHAT_MODE_EXPERT_MAX), "expert-max") == 0);
  CHECK(strcmp(ds_chat_mode_name((ds_chat_mode)9), "unknown") == 0);
  CHECK_OK(ds_chat_mode_parse("expert", &mode));
  CHECK(mode == DS_CHAT_MODE_EXPERT);
  CHECK_FAILS(ds_chat_mode_parse("turbo", &mode), DS_INVALID_ARGUMENT, "turbo");

  ds_chat_message_init(&msgs[0]);
  msgs[0].role = "system";
  msgs[0].content = "Be brief.";
  ds_chat_message_init(&msgs[1]);
  msgs[1].role = "user";
  msgs[1].content = "Hi";
  ds_chat_format_params_init(&fmt);
  CHECK(fmt.mode == DS_CHAT_MODE_EXPERT && fmt.drop_thinking == 1 && fmt.add_bos == 1);

  fmt.mode = DS_CHAT_MODE_FAST;
  CHECK_OK(ds_chat_encode(msgs, 2, NULL, 0, &fmt, prompt, sizeof prompt, &len));
  CHECK(len > 0 && strstr(prompt, "<｜User｜>Hi<｜Assistant｜></think>") != NULL);
  fmt.mode = DS_CHAT_MODE_EXPERT;
  CHECK_OK(ds_chat_encode(msgs, 2, NULL, 0, &fmt, prompt, sizeof prompt, &len));
  CHECK(strstr(prompt, "<｜Assistant｜><think>") != NULL);
  fmt.mode = DS_CHAT_MODE_EXPERT_MAX;
  CHECK_OK(ds_chat_encode(msgs, 2, NULL, 0, &fmt, NULL, 0, &len));
  CHECK(len > 0);
  fmt.mode = (ds_chat_mode)7;
  CHECK_FAILS(ds_chat_encode(msgs, 2, NULL, 0, &fmt, prompt, sizeof prompt, &len), DS_INVALID_ARGUMENT, "mode");

  /* An assistant turn with a tool call, then its result, as context for a new user turn. */
  ds_tool_call_init(&call);
  call.name = "get_time";
  call.arguments = "{}";
  msgs[0].role = "assistant";
  msgs[0].content = "";
  msgs[0].tool_calls = &call;
  msgs[0].n_tool_calls = 1;
  msgs[1].role = "tool";
  msgs[1].content = "12:00";
  ds_chat_format_params_init(&fmt);
  CHECK_OK(ds_chat_encode(msgs, 2, NULL, 0, &fmt, prompt, sizeof prompt, &len));
  CHECK(strstr(prompt, "get_time") != NULL);
  msgs[1].struct_size = 8; /* every element must repeat element 0's struct_size */
  CHECK_FAILS(ds_chat_encode(msgs, 2, NULL, 0, &fmt, prompt, sizeof prompt, &len), DS_INVALID_ARGUMENT,
              "messages[1].struct_size");
  msgs[1].struct_size = sizeof msgs[1];
  msgs[1].role = "wizard";
  CHECK_FAILS(ds_chat_encode(msgs, 2, NULL, 0, &fmt, prompt, sizeof prompt, &len), DS_INVALID_ARGUMENT, "wizard");
  msgs[1].role = "user";
  msgs[1].content = "Again";
  CHECK_OK(ds_chat_encode(&msgs[1], 1, msgs, 1, &fmt, prompt, sizeof prompt, &len));

  CHECK_OK(ds_chat_encode_json(request, strlen(request), prompt, sizeof prompt, &len));
  CHECK(strstr(prompt, "</think>") != NULL);
  CHECK_FAILS(ds_chat_encode_json("{", 1, prompt, sizeof prompt, &len), DS_INVALID_ARGUMENT, "");
}

static void test_parse(void) {
  const char *completion =
      "Let me check.\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"get_time\">\n"
      "<｜DSML｜parameter name=\"zone\" string=\"true\">UTC</｜DSML｜parameter>\n"
      "</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>";
  ds_reply *reply = NULL;
  ds_tool_call call;
  size_t len = 0;
  const char *message = NULL;

  CHECK_OK(ds_chat_parse(completion, strlen(completion), 0, &reply));
  CHECK(strcmp(ds_reply_content(reply, &len), "Let me check.") == 0 && len == 13);
  CHECK(strcmp(ds_reply_reasoning(reply, NULL), "") == 0);
  CHECK(ds_reply_tool_call_count(reply) == 1);
  call.struct_size = sizeof call;
  CHECK_OK(ds_reply_tool_call(reply, 0, &call));
  CHECK(strcmp(call.name, "get_time") == 0 && strstr(call.arguments, "UTC") != NULL);
  CHECK_FAILS(ds_reply_tool_call(reply, 1, &call), DS_OUT_OF_RANGE, "tool call 1");
  CHECK(strstr(ds_reply_json(reply, NULL), "\"tool_calls\"") != NULL);
  CHECK(ds_reply_parse_status(reply, &message) == DS_OK && strcmp(message, "") == 0);
  ds_reply_destroy(reply);
  reply = NULL;
  CHECK_FAILS(ds_chat_parse("no end", 6, 1, &reply), DS_INVALID_ARGUMENT, "");
  CHECK(reply == NULL);
}

static void test_session(const ds_model *model) {
  ds_session_params params;
  ds_session *session = NULL;
  ds_snapshot *snap = NULL;
  ds_sampling_params sp;
  ds_sampler *sampler = NULL;
  ds_logit_bias ban;
  const int32_t prompt[4] = {10, 20, 30, 40};
  const float *logits;
  float mtp[1024];
  size_t n = 0;
  int32_t next = -1;

  ds_session_params_init(&params);
  CHECK(params.prefill_chunk == 512 && params.num_threads == 0);
  params.num_threads = 1;
  params.enable_mtp = 1;
  CHECK_FAILS(ds_session_create(NULL, &params, &session), DS_INVALID_ARGUMENT, "model");
  CHECK_OK(ds_session_create(model, &params, &session));
  CHECK(ds_session_logits(session, &n) == NULL && n == 0);
  CHECK_OK(ds_session_prefill(session, prompt, 3));
  CHECK_OK(ds_session_snapshot(session, &snap));
  CHECK(ds_snapshot_position(snap) == 3 && ds_snapshot_position(NULL) == -1);
  CHECK_OK(ds_session_mtp_logits(session, prompt[3], mtp, 1024, &n));
  CHECK(n > 0);
  CHECK_OK(ds_session_decode(session, prompt[3]));
  CHECK(ds_session_position(session) == 4 && ds_session_capacity(session) >= 4);
  CHECK(ds_session_tokens(session, &n) != NULL && n == 4);
  logits = ds_session_logits(session, &n);
  CHECK(logits != NULL && n > 0 && isfinite(logits[0]));
  CHECK_FAILS(ds_session_decode(session, 1 << 30), DS_INVALID_ARGUMENT, "");
  CHECK_FAILS(ds_session_prefill(NULL, prompt, 1), DS_INVALID_ARGUMENT, "session");

  ds_sampling_params_init(&sp);
  CHECK(sp.temperature == 1.0f && sp.top_p == 1.0f);
  sp.temperature = 0.0f; /* greedy */
  ban.token = 0;
  ban.bias = -INFINITY;
  sp.logit_bias = &ban;
  sp.n_logit_bias = 1;
  CHECK_OK(ds_sampler_create(&sp, (int64_t)n, &sampler));
  CHECK_OK(ds_sampler_sample(sampler, logits, n, prompt, 4, &next));
  CHECK(next > 0 && (size_t)next < n);
  CHECK_FAILS(ds_sampler_sample(sampler, logits, n - 1, NULL, 0, &next), DS_INVALID_ARGUMENT, "");
  sp.top_p = 2.0f;
  CHECK(ds_sampler_create(&sp, (int64_t)n, NULL) == DS_INVALID_ARGUMENT);
  ds_sampler_destroy(sampler);
  ds_sampler_destroy(NULL);

  CHECK_OK(ds_session_restore(session, snap));
  CHECK(ds_session_position(session) == 3);
  ds_session_reset(session);
  CHECK(ds_session_position(session) == 0 && ds_session_position(NULL) == -1 && ds_session_capacity(NULL) == -1);
  ds_session_reset(NULL);
  ds_snapshot_destroy(snap);
  ds_snapshot_destroy(NULL);
  ds_session_destroy(session);
  ds_session_destroy(NULL);
}

/* Streaming state: counts pieces per channel; `stop_after` > 0 stops from the callback. */
typedef struct stream_state {
  int pieces[3];
  int events;
  int stop_after;
} stream_state;

static int on_piece(int32_t token, const char *text, size_t len, ds_channel channel, void *user_data) {
  stream_state *st = (stream_state *)user_data;
  /* text[len] is the terminator; the text itself may hold U+0000 (a byte token of the model). */
  CHECK(token >= 0 && text != NULL && text[len] == '\0' && channel <= DS_CHANNEL_TOOL_CALL);
  st->pieces[channel] += len > 0;
  ++st->events;
  return st->stop_after > 0 && st->events >= st->stop_after;
}

/* Cancellation from another thread: the first streamed piece wakes the canceller and waits
 * until it has called ds_generator_cancel, so the generation is mid-way when it lands. */
typedef struct cancel_state {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int started, cancelled;
  ds_generator *generator;
} cancel_state;

static int on_piece_wait(int32_t token, const char *text, size_t len, ds_channel channel, void *user_data) {
  cancel_state *st = (cancel_state *)user_data;
  (void)token; (void)text; (void)len; (void)channel;
  pthread_mutex_lock(&st->lock);
  st->started = 1;
  pthread_cond_broadcast(&st->cond);
  while (!st->cancelled) pthread_cond_wait(&st->cond, &st->lock);
  pthread_mutex_unlock(&st->lock);
  return 0;
}

static void *canceller(void *arg) {
  cancel_state *st = (cancel_state *)arg;
  pthread_mutex_lock(&st->lock);
  while (!st->started) pthread_cond_wait(&st->cond, &st->lock);
  ds_generator_cancel(st->generator);
  st->cancelled = 1;
  pthread_cond_broadcast(&st->cond);
  pthread_mutex_unlock(&st->lock);
  return NULL;
}

static int on_prefill(int64_t done, int64_t total, void *user_data) {
  CHECK(done > 0 && done <= total);
  ++*(int *)user_data;
  return 0;
}

/* KV caches: a shared cache with a budget, snapshots restored across its sessions, a refused
 * request that leaves its session as it was, and the model's size figures. */
static void test_kv_cache(const ds_model *model) {
  ds_kv_cache_params kp;
  ds_kv_cache *cache = NULL;
  ds_kv_cache_stats stats;
  ds_session_params params;
  ds_session *a = NULL, *b = NULL, *c = NULL;
  ds_snapshot *snap = NULL;
  int32_t prompt[300];
  size_t i, n = 0;
  const uint64_t budget = ds_model_kv_bytes_for_tokens(model, 256, 0);
  for (i = 0; i < 300; ++i) prompt[i] = (int32_t)((7 * i + 3) % 500);

  CHECK(budget > 0 && ds_model_kv_bytes_for_tokens(NULL, 10, 0) == 0);
  CHECK(ds_model_kv_bytes_for_tokens(model, 256, 1) > budget); /* the MTP layer's window too */
  CHECK(ds_model_kv_tokens_for_bytes(model, budget, 0) >= 256 && ds_model_kv_tokens_for_bytes(NULL, 1, 0) == -1);
  ds_kv_cache_params_init(&kp);
  CHECK(kp.budget_bytes == 0);
  kp.budget_bytes = budget;
  CHECK_FAILS(ds_kv_cache_create(NULL, &kp, &cache), DS_INVALID_ARGUMENT, "model");
  CHECK_OK(ds_kv_cache_create(model, &kp, &cache));
  memset(&stats, 0, sizeof stats);
  stats.struct_size = sizeof stats;
  CHECK_OK(ds_kv_cache_get_stats(cache, &stats));
  CHECK(stats.budget_bytes == budget && stats.bytes_in_use == 0 && stats.tokens_available >= 256);
  CHECK_FAILS(ds_kv_cache_get_stats(NULL, &stats), DS_INVALID_ARGUMENT, "cache");

  ds_session_params_init(&params);
  CHECK(params.kv_cache == NULL);
  params.num_threads = 1;
  params.kv_cache = cache;
  CHECK_OK(ds_session_create(model, &params, &a));
  CHECK_OK(ds_session_create(model, &params, &b));
  ds_kv_cache_destroy(cache); /* the sessions keep it alive */
  CHECK_OK(ds_session_prefill(a, prompt, 200));
  CHECK_OK(ds_session_snapshot(a, &snap));
  CHECK_OK(ds_session_restore(b, snap));
  CHECK(ds_session_position(b) == 200);
  /* Saved to a file and loaded into a session with a cache of its own (the budget of the
   * shared one is taken). */
  CHECK_OK(ds_session_save(b, "c_api_test_session.dskv"));
  CHECK_FAILS(ds_session_load(b, "c_api_test_session.dskv"), DS_RESOURCE_EXHAUSTED, "budget");
  CHECK(ds_session_position(b) == 200);
  params.kv_cache = NULL;
  CHECK_OK(ds_session_create(model, &params, &c));
  CHECK_OK(ds_session_load(c, "c_api_test_session.dskv"));
  CHECK(ds_session_position(c) == 200);
  remove("c_api_test_session.dskv");
  CHECK_FAILS(ds_session_load(c, "c_api_test_session.dskv"), DS_NOT_FOUND, "does not exist");
  CHECK_FAILS(ds_session_save(NULL, "x"), DS_INVALID_ARGUMENT, "session");
  CHECK_FAILS(ds_session_load(c, NULL), DS_INVALID_ARGUMENT, "path");
  CHECK(ds_session_position(c) == 200);
  ds_session_destroy(c);
  CHECK_FAILS(ds_session_prefill(a, prompt + 200, 100), DS_RESOURCE_EXHAUSTED, "unchanged");
  CHECK(strcmp(ds_status_string(DS_RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED") == 0);
  CHECK(ds_session_position(a) == 200 && ds_session_logits(a, &n) != NULL && n > 0);
  /* Decoding writes a's window pages, which it shares with b and the snapshot: the copies do
   * not fit, until the others let go of the pages. */
  CHECK_FAILS(ds_session_decode(a, prompt[200]), DS_RESOURCE_EXHAUSTED, "window");
  ds_snapshot_destroy(snap);
  ds_session_destroy(b);
  CHECK_OK(ds_session_decode(a, prompt[200]));
  CHECK(ds_session_position(a) == 201);
  ds_session_destroy(a);
  ds_kv_cache_destroy(NULL);
}

/* The disk tier: a cache whose pages all live in files of a folder gives the logits of one in
 * RAM; a folder that is not there is refused by name. */
static void test_kv_tier(const ds_model *model) {
  ds_kv_cache_params kp;
  ds_kv_cache *cache = NULL;
  ds_kv_cache_stats stats;
  ds_session_params params;
  ds_session *ram = NULL, *tiered = NULL;
  int32_t prompt[150];
  size_t i, n_ram = 0, n_tiered = 0;
  const float *a, *b;
  for (i = 0; i < 150; ++i) prompt[i] = (int32_t)((11 * i + 5) % 500);
  CHECK(mkdir("c_api_test_tier", 0700) == 0 || errno == EEXIST);
  ds_kv_cache_params_init(&kp);
  CHECK(kp.tier_dir == NULL && kp.ram_bytes == 0);
  kp.tier_dir = "c_api_test_tier/missing";
  CHECK_FAILS(ds_kv_cache_create(model, &kp, &cache), DS_INVALID_ARGUMENT, "tier folder");
  kp.tier_dir = "c_api_test_tier";
  CHECK_OK(ds_kv_cache_create(model, &kp, &cache));
  ds_session_params_init(&params);
  params.num_threads = 1;
  CHECK_OK(ds_session_create(model, &params, &ram));
  params.kv_cache = cache;
  CHECK_OK(ds_session_create(model, &params, &tiered));
  CHECK_OK(ds_session_prefill(ram, prompt, 150));
  CHECK_OK(ds_session_prefill(tiered, prompt, 150));
  memset(&stats, 0, sizeof stats);
  stats.struct_size = sizeof stats;
  CHECK_OK(ds_kv_cache_get_stats(cache, &stats));
  CHECK(stats.bytes_storage > 0 && stats.bytes_tiered == stats.bytes_storage);
  a = ds_session_logits(ram, &n_ram);
  b = ds_session_logits(tiered, &n_tiered);
  CHECK(a && b && n_ram == n_tiered && memcmp(a, b, n_ram * sizeof *a) == 0);
  ds_session_destroy(tiered);
  ds_session_destroy(ram);
  ds_kv_cache_destroy(cache);
  CHECK(rmdir("c_api_test_tier") == 0); /* nothing was left in it */
}

/* Callers built against an older header pass the older, smaller structs: still accepted, and
 * outputs written only up to their size. */
static void test_older_layouts(const ds_model *model) {
  ds_session_params params;
  ds_kv_cache_params kp;
  ds_kv_cache_stats stats;
  ds_kv_cache *cache = NULL;
  ds_session *s = NULL;
  ds_session_params_init(&params);
  params.struct_size = 48; /* 1.0: no kv_cache */
  params.num_threads = 1;
  CHECK_OK(ds_session_create(model, &params, &s));
  ds_session_destroy(s);
  params.struct_size = 40;
  CHECK_FAILS(ds_session_create(model, &params, &s), DS_INVALID_ARGUMENT, "struct_size");
  ds_kv_cache_params_init(&kp);
  kp.struct_size = 16; /* 1.1: no tier */
  CHECK_OK(ds_kv_cache_create(model, &kp, &cache));
  memset(&stats, 0xab, sizeof stats);
  stats.struct_size = 40; /* 1.1: no bytes_tiered */
  CHECK_OK(ds_kv_cache_get_stats(cache, &stats));
  CHECK(stats.struct_size == 40 && stats.bytes_in_use == 0 && stats.bytes_tiered == 0xabababababababab);
  ds_kv_cache_destroy(cache);
}

static void test_generation(const ds_model *model, const ds_tokenizer *tok) {
  ds_session_params sp;
  ds_generator *gen = NULL;
  ds_chat_message msg;
  ds_chat_format_params fmt;
  ds_generation_params gp;
  ds_sampling_params sampling;
  ds_generation_stats stats;
  ds_reply *reply = NULL;
  stream_state st;
  cancel_state cs;
  pthread_t thread;
  const char *stops[1] = {"never appears"};
  const int32_t prompt[3] = {5, 6, 7};
  const char *message = NULL;
  size_t n = 0;
  int prefill_calls = 0, mode;

  ds_session_params_init(&sp);
  sp.num_threads = 2;
  sp.prefill_chunk = 4;
  sp.progress = on_prefill;
  sp.progress_user_data = &prefill_calls;
  CHECK_FAILS(ds_generator_create(model, NULL, &sp, &gen), DS_INVALID_ARGUMENT, "tokenizer");
  CHECK_OK(ds_generator_create(model, tok, &sp, &gen));

  ds_chat_message_init(&msg);
  msg.role = "user";
  msg.content = "Tell me a story.";
  ds_generation_params_init(&gp);
  CHECK(gp.max_tokens == 512 && gp.ignore_eos == 0 && gp.sampling == NULL);
  ds_sampling_params_init(&sampling);
  sampling.seed = 7;
  gp.sampling = &sampling;
  gp.max_tokens = 12;
  gp.ignore_eos = 1; /* the tiny model's random weights may emit EOS at once */
  gp.stop_strings = stops;
  gp.n_stop_strings = 1;
  gp.stop_tokens = prompt;
  gp.n_stop_tokens = 0;
  for (mode = DS_CHAT_MODE_FAST; mode <= DS_CHAT_MODE_EXPERT_MAX; ++mode) {
    ds_chat_format_params_init(&fmt);
    fmt.mode = (ds_chat_mode)mode;
    /* The first seed whose 12 tokens open no other turn (which would end the reply): the tiny
       model's random weights decide, and they follow the kernels' rounding. */
    for (sampling.seed = 7; sampling.seed < 57; ++sampling.seed) {
      memset(&st, 0, sizeof st);
      CHECK_OK(ds_generator_chat(gen, &msg, 1, &fmt, &gp, on_piece, &st, &reply));
      if (ds_reply_finish_reason(reply) == DS_FINISH_MAX_TOKENS) break;
      ds_reply_destroy(reply);
      reply = NULL;
    }
    CHECK(reply != NULL && ds_reply_finish_reason(reply) == DS_FINISH_MAX_TOKENS);
    if (reply == NULL) continue;
    CHECK(ds_reply_tokens(reply, &n) != NULL && n == 12);
    CHECK(st.events >= 1);
    /* Fast mode streams content only; the expert modes start in reasoning. */
    CHECK(mode == DS_CHAT_MODE_FAST ? st.pieces[DS_CHANNEL_REASONING] == 0 : st.pieces[DS_CHANNEL_CONTENT] == 0);
    CHECK(ds_reply_text(reply, &n) != NULL);
    CHECK(ds_reply_content(reply, NULL) != NULL && ds_reply_reasoning(reply, NULL) != NULL);
    CHECK(ds_reply_tool_call_count(reply) == 0);
    CHECK(ds_reply_parse_status(reply, &message) == DS_INVALID_ARGUMENT && strlen(message) > 0); /* cut short */
    stats.struct_size = sizeof stats;
    CHECK_OK(ds_reply_stats(reply, &stats));
    CHECK(stats.prompt_tokens > 0 && stats.generated_tokens == 12 && stats.decode_tokens_per_second > 0);
    CHECK(stats.drafted_tokens > 0 && stats.accepted_drafts <= stats.drafted_tokens); /* drafts, sampled too */
    stats.struct_size = 64; /* 1.0: no draft counts */
    CHECK_OK(ds_reply_stats(reply, &stats));
    CHECK(stats.struct_size == 64);
    CHECK(ds_reply_json(reply, NULL) != NULL);
    ds_reply_destroy(reply);
    reply = NULL;
  }
  CHECK(prefill_calls > 0);

  /* The same conversation again reuses the computed prompt. */
  CHECK_OK(ds_generator_chat(gen, &msg, 1, &fmt, &gp, NULL, NULL, &reply));
  stats.struct_size = sizeof stats;
  CHECK_OK(ds_reply_stats(reply, &stats));
  CHECK(stats.reused_tokens > 0);
  ds_reply_destroy(reply);

  /* Stop from the callback. */
  memset(&st, 0, sizeof st);
  st.stop_after = 2;
  gp.max_tokens = 50;
  CHECK_OK(ds_generator_generate(gen, prompt, 3, &gp, on_piece, &st, &reply));
  CHECK(ds_reply_finish_reason(reply) == DS_FINISH_CANCELLED && st.events == 2);
  CHECK(strcmp(ds_finish_reason_name(ds_reply_finish_reason(reply)), "cancelled") == 0);
  CHECK(strcmp(ds_reply_content(reply, NULL), ds_reply_text(reply, NULL)) == 0);
  ds_reply_destroy(reply);

  /* Cancel from another thread. */
  memset(&cs, 0, sizeof cs);
  pthread_mutex_init(&cs.lock, NULL);
  pthread_cond_init(&cs.cond, NULL);
  cs.generator = gen;
  CHECK(pthread_create(&thread, NULL, canceller, &cs) == 0);
  CHECK_OK(ds_generator_generate(gen, prompt, 3, &gp, on_piece_wait, &cs, &reply));
  pthread_join(thread, NULL);
  CHECK(ds_reply_finish_reason(reply) == DS_FINISH_CANCELLED);
  CHECK(ds_reply_tokens(reply, &n) != NULL && n < 50);
  ds_reply_destroy(reply);
  pthread_cond_destroy(&cs.cond);
  pthread_mutex_destroy(&cs.lock);

  /* Error paths. */
  gp.max_tokens = 0;
  CHECK_FAILS(ds_generator_generate(gen, prompt, 3, &gp, NULL, NULL, &reply), DS_INVALID_ARGUMENT, "max_tokens");
  gp.max_tokens = 4;
  gp.struct_size = 3;
  CHECK_FAILS(ds_generator_chat(gen, &msg, 1, NULL, &gp, NULL, NULL, &reply), DS_INVALID_ARGUMENT,
              "ds_generation_params.struct_size");
  CHECK_FAILS(ds_generator_chat(NULL, &msg, 1, NULL, NULL, NULL, NULL, &reply), DS_INVALID_ARGUMENT, "generator");
  CHECK_FAILS(ds_reply_stats(NULL, &stats), DS_INVALID_ARGUMENT, "reply");
  CHECK(ds_reply_content(NULL, NULL) == NULL && ds_reply_tokens(NULL, &n) == NULL && n == 0);
  CHECK(ds_reply_parse_status(NULL, NULL) == DS_INVALID_ARGUMENT);
  CHECK(strcmp(ds_finish_reason_name((ds_finish_reason)42), "unknown") == 0);
  ds_generator_cancel(NULL);
  ds_reply_destroy(NULL);
  ds_generator_destroy(gen);
  ds_generator_destroy(NULL);
}

/* ds_session_decode_batch: each session's logits equal those of its own decode steps. */
static void test_decode_batch(const ds_model *model) {
  ds_session *alone[2] = {NULL, NULL}, *batch[2] = {NULL, NULL};
  ds_session *twice[2];
  const int32_t prompts[2][3] = {{1, 2, 3}, {4, 5, 6}};
  const int32_t next[2] = {7, 8};
  const float *a, *b;
  size_t na = 0, nb = 0;
  int i;
  for (i = 0; i < 2; ++i) {
    CHECK_OK(ds_session_create(model, NULL, &alone[i]));
    CHECK_OK(ds_session_create(model, NULL, &batch[i]));
    CHECK_OK(ds_session_prefill(alone[i], prompts[i], 3));
    CHECK_OK(ds_session_prefill(batch[i], prompts[i], 3));
    CHECK_OK(ds_session_decode(alone[i], next[i]));
  }
  CHECK_OK(ds_session_decode_batch(batch, next, 2));
  for (i = 0; i < 2; ++i) {
    a = ds_session_logits(alone[i], &na);
    b = ds_session_logits(batch[i], &nb);
    CHECK(a != NULL && b != NULL && na == nb && memcmp(a, b, na * sizeof(float)) == 0);
  }
  twice[0] = twice[1] = batch[0];
  CHECK_FAILS(ds_session_decode_batch(twice, next, 2), DS_INVALID_ARGUMENT, "twice");
  twice[1] = NULL;
  CHECK_FAILS(ds_session_decode_batch(twice, next, 2), DS_INVALID_ARGUMENT, "sessions[1]");
  CHECK_FAILS(ds_session_decode_batch(NULL, next, 2), DS_INVALID_ARGUMENT, "sessions");
  CHECK_OK(ds_session_decode_batch(NULL, NULL, 0));
  for (i = 0; i < 2; ++i) {
    ds_session_destroy(alone[i]);
    ds_session_destroy(batch[i]);
  }
}

/* Generators sharing a batcher (here one at a time: the threaded case is a C++ test). */
static void test_decode_batcher(const ds_model *model, const ds_tokenizer *tok) {
  ds_decode_batcher *batcher = NULL;
  ds_session_params sp;
  ds_generator *gen = NULL;
  ds_chat_message msg;
  ds_generation_params gp;
  ds_reply *reply = NULL;
  ds_generation_stats stats;
  size_t n = 0;
  CHECK_FAILS(ds_decode_batcher_create(NULL), DS_INVALID_ARGUMENT, "out");
  CHECK_OK(ds_decode_batcher_create(&batcher));
  ds_session_params_init(&sp);
  CHECK(sp.batcher == NULL);
  sp.num_threads = 1;
  sp.batcher = batcher;
  CHECK_OK(ds_generator_create(model, tok, &sp, &gen));
  ds_decode_batcher_destroy(batcher); /* the generator keeps it alive */
  ds_chat_message_init(&msg);
  msg.role = "user";
  msg.content = "Hello";
  ds_generation_params_init(&gp);
  gp.max_tokens = 6;
  gp.ignore_eos = 1;
  CHECK_OK(ds_generator_chat(gen, &msg, 1, NULL, &gp, NULL, NULL, &reply));
  CHECK(ds_reply_tokens(reply, &n) != NULL && n == 6);
  memset(&stats, 0, sizeof stats);
  stats.struct_size = sizeof stats;
  CHECK_OK(ds_reply_stats(reply, &stats));
  CHECK(stats.drafted_tokens == 0);
  ds_reply_destroy(reply);
  ds_generator_destroy(gen);
  ds_decode_batcher_destroy(NULL);
}

/* Greedy decoding drafts with the MTP head by default and gives the tokens of plain decoding;
 * speculative = 0 turns drafting off, and a 1.2-sized struct gets the default. */
static void test_speculation_switch(const ds_model *model, const ds_tokenizer *tok) {
  ds_session_params sp;
  ds_generation_params gp;
  ds_sampling_params greedy;
  ds_chat_message msg;
  ds_generation_stats stats;
  const int32_t *tokens[2] = {NULL, NULL};
  size_t n[2] = {0, 0};
  ds_reply *replies[2] = {NULL, NULL};
  int32_t speculative;
  ds_session_params_init(&sp);
  CHECK(sp.speculative == 1);
  sp.num_threads = 2;
  ds_chat_message_init(&msg);
  msg.role = "user";
  msg.content = "Count to twenty.";
  ds_sampling_params_init(&greedy);
  greedy.temperature = 0;
  ds_generation_params_init(&gp);
  gp.sampling = &greedy;
  gp.max_tokens = 24;
  gp.ignore_eos = 1;
  for (speculative = 0; speculative <= 1; ++speculative) {
    ds_generator *gen = NULL;
    sp.speculative = speculative;
    sp.struct_size = speculative ? 56 : sizeof sp; /* 1.2 layout: the default (on) */
    CHECK_OK(ds_generator_create(model, tok, &sp, &gen));
    CHECK_OK(ds_generator_chat(gen, &msg, 1, NULL, &gp, NULL, NULL, &replies[speculative]));
    tokens[speculative] = ds_reply_tokens(replies[speculative], &n[speculative]);
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    CHECK_OK(ds_reply_stats(replies[speculative], &stats));
    CHECK(speculative ? stats.drafted_tokens > 0 : stats.drafted_tokens == 0);
    ds_generator_destroy(gen);
  }
  CHECK(n[0] == 24 && n[1] == 24 && memcmp(tokens[0], tokens[1], 24 * sizeof(int32_t)) == 0);
  ds_reply_destroy(replies[0]);
  ds_reply_destroy(replies[1]);
}

int main(int argc, char **argv) {
  ds_model *model;
  ds_tokenizer *tok;
  if (argc != 2) {
    fprintf(stderr, "usage: c_api_test TINY_CHECKPOINT_DIR\n");
    return 2;
  }
  test_versions();
  model = test_model(argv[1]);
  tok = test_tokenizer(argv[1]);
  test_chat_format();
  test_parse();
  if (model && tok) {
    test_session(model);
    test_kv_cache(model);
    test_kv_tier(model);
    test_older_layouts(model);
    test_generation(model, tok);
    test_speculation_switch(model, tok);
    test_decode_batch(model);
    test_decode_batcher(model, tok);
  }
  /* Handles may go in any order: generators and sessions keep what they use alive. */
  ds_model_destroy(model);
  ds_tokenizer_destroy(tok);
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("c_api_test: all checks passed\n");
  return 0;
}

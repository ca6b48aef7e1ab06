/* chat_stream: loads a DeepSeek V4 checkpoint through the C ABI and streams one chat reply,
 * reasoning and content apart, then prints the timings.
 * usage: chat_stream MODEL_DIR [fast|expert|expert-max] [PROMPT] [MAX_TOKENS] */
#include <deepseek.h>
#include <stdio.h>
#include <stdlib.h>

static void on_load(float fraction, const char *stage, void *user_data) {
  (void)user_data;
  fprintf(stderr, "\rloading %3.0f%% %-40s", 100.0 * fraction, stage);
  if (fraction >= 1.0f) fputc('\n', stderr);
}

/* Prints each piece as it comes; a header line marks where a channel starts. */
static int on_piece(int32_t token, const char *text, size_t len, ds_channel channel, void *user_data) {
  static const char *const names[] = {"reasoning", "content", "tool calls"};
  int *current = (int *)user_data;
  (void)token;
  if (len == 0) return 0;
  if (*current != (int)channel) {
    printf("%s[%s]\n", *current < 0 ? "" : "\n", names[channel]);
    *current = (int)channel;
  }
  fwrite(text, 1, len, stdout);
  fflush(stdout);
  return 0; /* nonzero would stop the generation */
}

static int fail(const char *what, ds_status status) {
  fprintf(stderr, "chat_stream: %s: %s: %s\n", what, ds_status_string(status), ds_last_error());
  return 1;
}

int main(int argc, char **argv) {
  ds_model_load_params load;
  ds_model *model = NULL;
  ds_tokenizer *tokenizer = NULL;
  ds_generator *generator = NULL;
  ds_reply *reply = NULL;
  ds_chat_message message;
  ds_chat_format_params format;
  ds_generation_params params;
  ds_generation_stats stats;
  ds_status status;
  int channel = -1, rc = 1;

  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL_DIR [fast|expert|expert-max] [PROMPT] [MAX_TOKENS]\n", argv[0]);
    return 2;
  }
  ds_chat_format_params_init(&format);
  if (argc > 2 && (status = ds_chat_mode_parse(argv[2], &format.mode)) != DS_OK) return fail("mode", status);
  ds_chat_message_init(&message);
  message.role = "user";
  message.content = argc > 3 ? argv[3] : "Write a haiku about the sea.";
  ds_generation_params_init(&params);
  params.max_tokens = argc > 4 ? atol(argv[4]) : 256;

  ds_model_load_params_init(&load);
  load.progress = on_load;
  if ((status = ds_model_load(argv[1], &load, &model)) != DS_OK) return fail("loading the model", status);
  if ((status = ds_tokenizer_load(argv[1], &tokenizer)) != DS_OK) {
    fail("loading the tokenizer", status);
    goto done;
  }
  if ((status = ds_generator_create(model, tokenizer, NULL, &generator)) != DS_OK) {
    fail("creating the generator", status);
    goto done;
  }
  status = ds_generator_chat(generator, &message, 1, &format, &params, on_piece, &channel, &reply);
  if (status != DS_OK) {
    fail("generating", status);
    goto done;
  }
  stats.struct_size = sizeof stats;
  ds_reply_stats(reply, &stats);
  printf("\n\n[%s] mode %s, finish %s, %zu tool call(s)\n", ds_version_string(), ds_chat_mode_name(format.mode),
         ds_finish_reason_name(ds_reply_finish_reason(reply)), ds_reply_tool_call_count(reply));
  printf("prompt %lld tokens (%lld reused): %.3f s, %.1f tok/s\n", (long long)stats.prompt_tokens,
         (long long)stats.reused_tokens, stats.prefill_seconds, stats.prefill_tokens_per_second);
  printf("generated %lld tokens: %.3f s, %.1f tok/s\n", (long long)stats.generated_tokens, stats.decode_seconds,
         stats.decode_tokens_per_second);
  rc = 0;
done:
  ds_reply_destroy(reply);
  ds_generator_destroy(generator);
  ds_tokenizer_destroy(tokenizer);
  ds_model_destroy(model);
  return rc;
}

/* Images and video through the C ABI (1.4), as a C99 program sees them: a V4.1 checkpoint with a
 * vision tower (argv[1], deepseek-make-tiny --preset v41-tiny), a V4 one without (argv[2]) and
 * a PNG (argv[3]). Images decoded three ways agree; text + image + text give the same logits
 * however the calls and chunks split them; video frames are chosen by stride and budget; chat
 * messages carry images (and messages of the 1.3 layout, without them, are still read); bad
 * bytes, NULL arguments and images for a model without vision are refused with their cause. */
#include <deepseek.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

/* The message of a program built against ABI 1.3, before images: 88 bytes. */
typedef struct message_1_3 {
  size_t struct_size;
  const char *role, *content, *reasoning_content;
  const ds_tool_call *tool_calls;
  size_t n_tool_calls;
  const char *tool_call_id, *tools_json, *response_format_json, *task;
  int32_t wo_eos, reserved0;
} message_1_3;
typedef char assert_message_1_3_size[sizeof(message_1_3) == 88 ? 1 : -1];
typedef char assert_message_size[sizeof(ds_chat_message) == 104 ? 1 : -1];
typedef char assert_video_params_size[sizeof(ds_video_params) == 24 ? 1 : -1];

#define FRAMES_DIR "c_api_vision_frames"

static unsigned char *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  unsigned char *data = NULL;
  long n;
  *size = 0;
  if (!f) return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
    data = (unsigned char *)malloc((size_t)n);
    if (data && fread(data, 1, (size_t)n, f) == (size_t)n) {
      *size = (size_t)n;
    } else {
      free(data);
      data = NULL;
    }
  }
  fclose(f);
  return data;
}

static int write_file(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  int ok = f != NULL && fwrite(data, 1, size, f) == size;
  if (f) ok = fclose(f) == 0 && ok;
  return ok;
}

/* Token ids of ordinary text (the formula of the C++ V4.1 tests: no special token among them). */
static void text_ids(int32_t *ids, size_t n, int32_t seed) {
  size_t i;
  for (i = 0; i < n; ++i) ids[i] = 3 + (seed * 131 + (int32_t)i * 37) % 400;
}

static int same_pixels(const ds_image *a, const ds_image *b) {
  size_t na = 0, nb = 0;
  const uint8_t *pa = ds_image_rgb(a, &na), *pb = ds_image_rgb(b, &nb);
  return pa != NULL && pb != NULL && na == nb && memcmp(pa, pb, na) == 0;
}

/* The same picture from the file, from its bytes and from its pixels; refusals of bad input. */
static ds_image *test_images(const char *png_path, const unsigned char *png, size_t png_size) {
  ds_image *img = NULL, *decoded = NULL, *copied = NULL, *none = NULL;
  const unsigned char gif[8] = {'G', 'I', 'F', '8', '9', 'a', 0, 0};
  const uint8_t *rgb;
  size_t n = 0;
  int64_t w = 0, h = 0;

  CHECK_OK(ds_image_load(png_path, &img));
  CHECK_OK(ds_image_size(img, &w, &h));
  CHECK(w == 90 && h == 70);
  rgb = ds_image_rgb(img, &n);
  CHECK(rgb != NULL && n == 90 * 70 * 3);
  CHECK(ds_image_rgb(img, NULL) == rgb);
  CHECK_OK(ds_image_decode(png, png_size, "image.png", &decoded));
  CHECK(same_pixels(img, decoded));
  CHECK_OK(ds_image_from_rgb(w, h, rgb, n, &copied));
  CHECK(same_pixels(img, copied) && ds_image_rgb(copied, NULL) != rgb); /* copied, not borrowed */

  /* Bad bytes name the image; a missing file names its path; out stays NULL throughout. */
  CHECK_FAILS(ds_image_decode(gif, sizeof gif, "upload.gif", &none), DS_INVALID_ARGUMENT, "upload.gif");
  CHECK_FAILS(ds_image_decode(png, png_size / 2, "cut.png", &none), DS_INVALID_ARGUMENT, "cut.png");
  CHECK_FAILS(ds_image_decode(gif, sizeof gif, NULL, &none), DS_INVALID_ARGUMENT, "image");
  CHECK_FAILS(ds_image_decode(NULL, 0, "empty.png", &none), DS_INVALID_ARGUMENT, "empty.png");
  CHECK_FAILS(ds_image_decode(NULL, 5, "x", &none), DS_INVALID_ARGUMENT, "bytes");
  CHECK_FAILS(ds_image_decode(png, png_size, "x", NULL), DS_INVALID_ARGUMENT, "out");
  CHECK_FAILS(ds_image_load("/nonexistent/frame.png", &none), DS_NOT_FOUND, "/nonexistent/frame.png");
  CHECK_FAILS(ds_image_load(NULL, &none), DS_INVALID_ARGUMENT, "path");
  CHECK_FAILS(ds_image_load(png_path, NULL), DS_INVALID_ARGUMENT, "out");
  CHECK_FAILS(ds_image_from_rgb(0, h, rgb, 0, &none), DS_INVALID_ARGUMENT, "positive");
  CHECK_FAILS(ds_image_from_rgb(w, -1, rgb, n, &none), DS_INVALID_ARGUMENT, "positive");
  CHECK_FAILS(ds_image_from_rgb(w, h, rgb, n - 1, &none), DS_INVALID_ARGUMENT, "width * height * 3");
  CHECK_FAILS(ds_image_from_rgb(INT64_MAX, INT64_MAX, rgb, n, &none), DS_INVALID_ARGUMENT, "width * height * 3");
  CHECK_FAILS(ds_image_from_rgb((int64_t)1 << 40, (int64_t)1 << 23, rgb, 0, &none), DS_INVALID_ARGUMENT,
              "width * height * 3"); /* the product wraps to 0 in 64 bits */
  CHECK_FAILS(ds_image_from_rgb(w, h, NULL, n, &none), DS_INVALID_ARGUMENT, "rgb");
  CHECK_FAILS(ds_image_from_rgb(w, h, rgb, n, NULL), DS_INVALID_ARGUMENT, "out");
  CHECK(none == NULL);
  CHECK_FAILS(ds_image_size(NULL, &w, &h), DS_INVALID_ARGUMENT, "image");
  CHECK_FAILS(ds_image_size(img, NULL, &h), DS_INVALID_ARGUMENT, "width");
  CHECK_FAILS(ds_image_size(img, &w, NULL), DS_INVALID_ARGUMENT, "height");
  CHECK(ds_image_rgb(NULL, &n) == NULL && n == 0);
  ds_image_destroy(decoded);
  ds_image_destroy(copied);
  ds_image_destroy(NULL);
  return img;
}

/* Logits after 7 tokens, `img`, 23 tokens (given as two prefills cut at `cut`) and three decode
 * steps, with prefill chunks of `chunk`; malloc'd, *n receives the count. */
static float *image_logits(const ds_model *model, const ds_image *img, int64_t chunk, size_t cut, int64_t span,
                           size_t *n) {
  ds_session_params params;
  ds_session *s = NULL;
  int32_t before[7], after[23];
  const int32_t steps[3] = {5, 77, 300};
  const float *logits;
  float *copy = NULL;
  size_t i;
  *n = 0;
  text_ids(before, 7, 1);
  text_ids(after, 23, 2);
  ds_session_params_init(&params);
  params.num_threads = 2;
  params.prefill_chunk = chunk;
  CHECK_OK(ds_session_create(model, &params, &s));
  CHECK_OK(ds_session_prefill(s, before, 7));
  CHECK_OK(ds_session_prefill_image(s, img));
  CHECK(ds_session_position(s) == 7 + span);
  CHECK_OK(ds_session_prefill(s, after, cut));
  CHECK_OK(ds_session_prefill(s, after + cut, 23 - cut));
  for (i = 0; i < 3; ++i) CHECK_OK(ds_session_decode(s, steps[i]));
  CHECK(ds_session_position(s) == 7 + span + 23 + 3);
  logits = ds_session_logits(s, n);
  if (logits && *n) {
    copy = (float *)malloc(*n * sizeof *copy);
    if (copy) memcpy(copy, logits, *n * sizeof *copy);
  }
  ds_session_destroy(s);
  return copy;
}

static int same_logits(const float *a, size_t na, const float *b, size_t nb) {
  return a != NULL && b != NULL && na == nb && memcmp(a, b, na * sizeof *a) == 0;
}

static void test_image_sessions(const ds_model *v41, const ds_tokenizer *tok, const ds_image *img) {
  ds_image *copied = NULL, *other = NULL;
  ds_session *s = NULL;
  int64_t span = 0, other_span = 0, none = -1;
  size_t n_rgb = 0, n[4] = {0, 0, 0, 0};
  float *runs[4];
  uint8_t *pixels;
  const uint8_t *rgb = ds_image_rgb(img, &n_rgb);
  int32_t text[4], image_token = -1;
  size_t i;

  CHECK(ds_model_has_vision(v41) == 1 && ds_model_has_vision(NULL) == 0);
  CHECK_OK(ds_model_image_positions(v41, img, &span));
  CHECK(span > 2);
  CHECK_FAILS(ds_model_image_positions(NULL, img, &none), DS_INVALID_ARGUMENT, "model");
  CHECK_FAILS(ds_model_image_positions(v41, NULL, &none), DS_INVALID_ARGUMENT, "image");
  CHECK_FAILS(ds_model_image_positions(v41, img, NULL), DS_INVALID_ARGUMENT, "positions");
  CHECK(none == -1);

  /* One chunk per call against chunks of 5 (the span cut into pieces too), and the picture
   * rebuilt from its pixels: the same logits. */
  CHECK_OK(ds_image_from_rgb(90, 70, rgb, n_rgb, &copied));
  runs[0] = image_logits(v41, img, 512, 11, span, &n[0]);
  runs[1] = image_logits(v41, img, 5, 3, span, &n[1]);
  runs[2] = image_logits(v41, copied, 512, 20, span, &n[2]);
  CHECK(same_logits(runs[0], n[0], runs[1], n[1]));
  CHECK(same_logits(runs[0], n[0], runs[2], n[2]));

  /* Another picture of the same size changes what follows it. */
  pixels = (uint8_t *)malloc(n_rgb);
  CHECK(pixels != NULL);
  if (pixels) {
    for (i = 0; i < n_rgb; ++i) pixels[i] = (uint8_t)(255 - rgb[i]);
    CHECK_OK(ds_image_from_rgb(90, 70, pixels, n_rgb, &other));
    free(pixels);
  }
  CHECK_OK(ds_model_image_positions(v41, other, &other_span));
  CHECK(other_span == span);
  runs[3] = image_logits(v41, other, 512, 11, span, &n[3]);
  CHECK(runs[3] != NULL && !same_logits(runs[0], n[0], runs[3], n[3]));
  for (i = 0; i < 4; ++i) free(runs[i]);

  /* Refusals leave the session as it was. */
  CHECK_OK(ds_session_create(v41, NULL, &s));
  text_ids(text, 4, 3);
  CHECK_OK(ds_session_prefill(s, text, 4));
  CHECK_FAILS(ds_session_prefill_image(NULL, img), DS_INVALID_ARGUMENT, "session");
  CHECK_FAILS(ds_session_prefill_image(s, NULL), DS_INVALID_ARGUMENT, "image");
  CHECK(ds_session_position(s) == 4);
  /* The image token in text: image spans come only from ds_session_prefill_image. */
  CHECK_OK(ds_token_id(tok, DS_IMAGE_PLACEHOLDER, &image_token));
  text[1] = image_token;
  CHECK_FAILS(ds_session_prefill(s, text, 3), DS_INVALID_ARGUMENT, "image token");
  CHECK(ds_session_position(s) == 4);
  ds_session_destroy(s);
  ds_image_destroy(copied);
  ds_image_destroy(other);
}

/* A V4 model has no vision tower: images and video are DS_UNSUPPORTED. */
static void test_no_vision(const ds_model *flash, const ds_image *img) {
  ds_session *s = NULL;
  ds_video *video = NULL;
  int64_t span = -1;
  const int32_t text[3] = {10, 20, 30};
  CHECK(ds_model_has_vision(flash) == 0);
  CHECK_FAILS(ds_model_image_positions(flash, img, &span), DS_UNSUPPORTED, "vision");
  CHECK(span == -1);
  CHECK_OK(ds_session_create(flash, NULL, &s));
  CHECK_OK(ds_session_prefill(s, text, 3));
  CHECK_FAILS(ds_session_prefill_image(s, img), DS_UNSUPPORTED, "vision");
  CHECK(ds_session_position(s) == 3); /* refused before anything changed */
  CHECK_OK(ds_session_prefill(s, text, 3));
  ds_session_destroy(s);
  CHECK_FAILS(ds_video_load(FRAMES_DIR, flash, NULL, &video), DS_UNSUPPORTED, "vision");
  CHECK(video == NULL);
}

/* Three frames (copies of the PNG, one with an upper-case extension) and a text file that is
 * no frame. */
static int write_frames(const unsigned char *png, size_t png_size) {
  return (mkdir(FRAMES_DIR, 0700) == 0 || errno == EEXIST) && write_file(FRAMES_DIR "/f0.png", png, png_size) &&
         write_file(FRAMES_DIR "/f1.png", png, png_size) && write_file(FRAMES_DIR "/f2.PNG", png, png_size) &&
         write_file(FRAMES_DIR "/notes.txt", "not a frame", 11);
}

static void remove_frames(void) {
  remove(FRAMES_DIR "/f0.png");
  remove(FRAMES_DIR "/f1.png");
  remove(FRAMES_DIR "/f2.PNG");
  remove(FRAMES_DIR "/notes.txt");
  CHECK(rmdir(FRAMES_DIR) == 0);
}

/* Frames by stride and budget; the whole clip prefilled frame by frame. Returns the default
 * selection (all three frames). */
static ds_video *test_video(const ds_model *v41, const ds_image *img) {
  ds_video_params params;
  ds_video *all = NULL, *video = NULL;
  const ds_image *const *frames;
  ds_session *s = NULL;
  struct {
    ds_video_params p;
    uint64_t newer_field;
  } newer;
  int64_t span = 0, w = 0, h = 0;
  size_t n = 0, i;

  CHECK_OK(ds_model_image_positions(v41, img, &span));
  ds_video_params_init(&params);
  CHECK(params.struct_size == sizeof params && params.frame_stride == 1 && params.max_visual_tokens == 8192);
  CHECK_OK(ds_video_load(FRAMES_DIR, v41, NULL, &all));
  frames = ds_video_frames(all, &n);
  CHECK(frames != NULL && n == 3 && ds_video_frames(all, NULL) == frames);
  for (i = 0; frames && i < n; ++i) {
    CHECK_OK(ds_image_size(frames[i], &w, &h));
    CHECK(w == 90 && h == 70 && same_pixels(frames[i], img));
  }

  params.frame_stride = 2; /* frames 0 and 2 */
  CHECK_OK(ds_video_load(FRAMES_DIR, v41, &params, &video));
  CHECK(ds_video_frames(video, &n) != NULL && n == 2);
  ds_video_destroy(video);
  video = NULL;
  params.frame_stride = 1;
  params.max_visual_tokens = 2 * span + 1; /* room for two frames' spans, not three */
  CHECK_OK(ds_video_load(FRAMES_DIR, v41, &params, &video));
  CHECK(ds_video_frames(video, &n) != NULL && n == 2);
  ds_video_destroy(video);
  video = NULL;

  params.max_visual_tokens = span - 1;
  CHECK_FAILS(ds_video_load(FRAMES_DIR, v41, &params, &video), DS_INVALID_ARGUMENT, "budget");
  params.max_visual_tokens = 8192;
  params.frame_stride = 0;
  CHECK_FAILS(ds_video_load(FRAMES_DIR, v41, &params, &video), DS_INVALID_ARGUMENT, "stride");
  params.frame_stride = 1;
  params.struct_size = 8;
  CHECK_FAILS(ds_video_load(FRAMES_DIR, v41, &params, &video), DS_INVALID_ARGUMENT, "struct_size");
  ds_video_params_init(&newer.p);
  newer.p.struct_size = sizeof newer;
  newer.newer_field = 1;
  CHECK_FAILS(ds_video_load(FRAMES_DIR, v41, &newer.p, &video), DS_UNSUPPORTED, "struct_size");
  CHECK_FAILS(ds_video_load("/nonexistent/clip", v41, NULL, &video), DS_NOT_FOUND, "/nonexistent/clip");
  CHECK_FAILS(ds_video_load(NULL, v41, NULL, &video), DS_INVALID_ARGUMENT, "dir");
  CHECK_FAILS(ds_video_load(FRAMES_DIR, NULL, NULL, &video), DS_INVALID_ARGUMENT, "model");
  CHECK_FAILS(ds_video_load(FRAMES_DIR, v41, NULL, NULL), DS_INVALID_ARGUMENT, "out");
  CHECK(video == NULL);
  CHECK(ds_video_frames(NULL, &n) == NULL && n == 0);
  ds_video_destroy(NULL);

  /* The clip as consecutive image spans. */
  CHECK_OK(ds_session_create(v41, NULL, &s));
  frames = ds_video_frames(all, &n);
  for (i = 0; frames && i < n; ++i) CHECK_OK(ds_session_prefill_image(s, frames[i]));
  CHECK(ds_session_position(s) == 3 * span);
  ds_session_destroy(s);
  return all;
}

/* Chat messages carrying images: encoded with a placeholder per image, and answered. */
static void test_chat_images(const ds_model *v41, const ds_tokenizer *tok, const ds_image *img, const ds_video *video) {
  ds_chat_message msg;
  ds_chat_format_params fmt;
  ds_generation_params gp;
  ds_sampling_params greedy;
  ds_generation_stats stats;
  ds_generator *gen = NULL;
  ds_reply *reply = NULL;
  ds_session_params sp;
  const ds_image *two[2];
  const ds_image *with_null[2];
  char prompt[4096];
  const char *at;
  size_t len = 0, n = 0;
  int64_t span = 0;

  ds_chat_message_init(&msg);
  CHECK(msg.struct_size == sizeof msg && msg.images == NULL && msg.n_images == 0);
  ds_chat_format_params_init(&fmt);
  fmt.mode = DS_CHAT_MODE_FAST;
  two[0] = two[1] = img;

  /* Placed where the content names them, or all before its text. */
  msg.role = "user";
  msg.content = "Compare " DS_IMAGE_PLACEHOLDER " and " DS_IMAGE_PLACEHOLDER ".";
  msg.images = two;
  msg.n_images = 2;
  CHECK_OK(ds_chat_encode(&msg, 1, NULL, 0, &fmt, prompt, sizeof prompt, &len));
  CHECK(strstr(prompt, "Compare " DS_IMAGE_PLACEHOLDER " and " DS_IMAGE_PLACEHOLDER ".") != NULL);
  msg.content = "What is this?";
  msg.n_images = 1;
  CHECK_OK(ds_chat_encode(&msg, 1, NULL, 0, &fmt, prompt, sizeof prompt, &len));
  at = strstr(prompt, DS_IMAGE_PLACEHOLDER "What is this?");
  CHECK(at != NULL && strstr(at + 1, DS_IMAGE_PLACEHOLDER) == NULL);

  /* Refusals name the message and field. */
  msg.content = "Compare " DS_IMAGE_PLACEHOLDER " and " DS_IMAGE_PLACEHOLDER ".";
  CHECK_FAILS(ds_chat_encode(&msg, 1, NULL, 0, &fmt, prompt, sizeof prompt, &len), DS_INVALID_ARGUMENT,
              "messages[0].content names 2 image placeholders");
  with_null[0] = img;
  with_null[1] = NULL;
  msg.images = with_null;
  msg.n_images = 2;
  CHECK_FAILS(ds_chat_encode(&msg, 1, NULL, 0, &fmt, prompt, sizeof prompt, &len), DS_INVALID_ARGUMENT,
              "messages[0].images[1]");
  msg.images = NULL;
  CHECK_FAILS(ds_chat_encode(&msg, 1, NULL, 0, &fmt, prompt, sizeof prompt, &len), DS_INVALID_ARGUMENT,
              "messages[0].images is NULL");
  msg.images = two;
  msg.role = "assistant";
  CHECK_FAILS(ds_chat_encode(&msg, 1, NULL, 0, &fmt, prompt, sizeof prompt, &len), DS_INVALID_ARGUMENT,
              "only user messages");

  /* A chat about the image generates; the prompt counts the image's span. */
  ds_session_params_init(&sp);
  sp.num_threads = 2;
  CHECK_OK(ds_generator_create(v41, tok, &sp, &gen));
  ds_sampling_params_init(&greedy);
  greedy.temperature = 0;
  ds_generation_params_init(&gp);
  gp.sampling = &greedy;
  gp.max_tokens = 6;
  gp.ignore_eos = 1;
  msg.role = "user";
  msg.content = "What is in " DS_IMAGE_PLACEHOLDER "?";
  msg.images = &img;
  msg.n_images = 1;
  CHECK_OK(ds_model_image_positions(v41, img, &span));
  CHECK_OK(ds_generator_chat(gen, &msg, 1, &fmt, &gp, NULL, NULL, &reply));
  CHECK(ds_reply_tokens(reply, &n) != NULL && n == 6);
  memset(&stats, 0, sizeof stats);
  stats.struct_size = sizeof stats;
  CHECK_OK(ds_reply_stats(reply, &stats));
  CHECK(stats.prompt_tokens > span && stats.reused_tokens == 0 && stats.generated_tokens == 6);
  ds_reply_destroy(reply);
  reply = NULL;

  /* A clip: its frames are the message's images. */
  msg.content = "What happens in this clip?";
  msg.images = ds_video_frames(video, &msg.n_images);
  CHECK(msg.n_images == 3);
  CHECK_OK(ds_generator_chat(gen, &msg, 1, &fmt, &gp, NULL, NULL, &reply));
  CHECK(ds_reply_tokens(reply, &n) != NULL && n == 6);
  CHECK_OK(ds_reply_stats(reply, &stats));
  CHECK(stats.prompt_tokens > 3 * span);
  ds_reply_destroy(reply);
  ds_generator_destroy(gen);
}

/* A chat with an image for a V4 model, which has no vision tower, is refused. */
static void test_chat_without_vision(const ds_model *flash, const ds_tokenizer *flash_tok, const ds_image *img) {
  ds_generator *gen = NULL;
  ds_reply *reply = NULL;
  ds_chat_message msg;
  ds_generation_params gp;
  CHECK_OK(ds_generator_create(flash, flash_tok, NULL, &gen));
  ds_chat_message_init(&msg);
  msg.role = "user";
  msg.content = "What is this?";
  msg.images = &img;
  msg.n_images = 1;
  ds_generation_params_init(&gp);
  gp.max_tokens = 2;
  CHECK_FAILS(ds_generator_chat(gen, &msg, 1, NULL, &gp, NULL, NULL, &reply), DS_UNSUPPORTED, "vision");
  CHECK(reply == NULL);
  ds_generator_destroy(gen);
}

/* Programs built against 1.3 have 88-byte messages and call the exported ds_chat_message_init:
 * it fills those 88 bytes only, and such messages, arrays of them too, are read as before. */
static void test_older_messages(const ds_model *v41, const ds_tokenizer *tok) {
  union {
    ds_chat_message m;
    unsigned char bytes[sizeof(ds_chat_message)];
  } u;
  struct {
    ds_chat_message m;
    uint64_t newer_field;
  } newer;
  message_1_3 old[2];
  ds_chat_message current[2];
  ds_chat_format_params fmt;
  ds_generation_params gp;
  ds_generator *gen = NULL;
  ds_reply *reply = NULL;
  char a[2048], b[2048];
  size_t la = 0, lb = 0, i, n = 0;
  int untouched = 1;

  memset(u.bytes, 0xab, sizeof u.bytes);
  (ds_chat_message_init)(&u.m); /* the function, as a program built against 1.3 calls it */
  CHECK(u.m.struct_size == 88 && u.m.role == NULL && u.m.reserved0 == 0);
  for (i = 88; i < sizeof u.bytes; ++i) untouched = untouched && u.bytes[i] == 0xab;
  CHECK(untouched);

  memset(old, 0, sizeof old);
  old[0].struct_size = old[1].struct_size = 88;
  old[0].role = "system";
  old[0].content = "Be brief.";
  old[1].role = "user";
  old[1].content = "Hi";
  ds_chat_message_init(&current[0]);
  current[0].role = "system";
  current[0].content = "Be brief.";
  ds_chat_message_init(&current[1]);
  current[1].role = "user";
  current[1].content = "Hi";
  ds_chat_format_params_init(&fmt);
  CHECK_OK(ds_chat_encode((const ds_chat_message *)(const void *)old, 2, NULL, 0, &fmt, a, sizeof a, &la));
  CHECK_OK(ds_chat_encode(current, 2, NULL, 0, &fmt, b, sizeof b, &lb));
  CHECK(la == lb && strcmp(a, b) == 0);
  CHECK_OK(ds_generator_create(v41, tok, NULL, &gen));
  ds_generation_params_init(&gp);
  gp.max_tokens = 3;
  gp.ignore_eos = 1;
  CHECK_OK(ds_generator_chat(gen, (const ds_chat_message *)(const void *)old, 2, &fmt, &gp, NULL, NULL, &reply));
  CHECK(ds_reply_tokens(reply, &n) != NULL && n == 3);
  ds_reply_destroy(reply);
  ds_generator_destroy(gen);

  /* A newer header's larger message: filled to its size; its unknown tail must stay zero. */
  newer.newer_field = 7;
  ds_chat_message_init(&newer.m);
  CHECK(newer.m.struct_size == sizeof(ds_chat_message));
  ds_chat_message_init_sized(&newer.m, sizeof newer);
  CHECK(newer.m.struct_size == sizeof newer && newer.newer_field == 0);
  newer.m.role = "user";
  newer.m.content = "Hi";
  CHECK_OK(ds_chat_encode(&newer.m, 1, NULL, 0, &fmt, a, sizeof a, &la));
  newer.newer_field = 1;
  CHECK_FAILS(ds_chat_encode(&newer.m, 1, NULL, 0, &fmt, a, sizeof a, &la), DS_UNSUPPORTED, "struct_size");

  /* Sizes below the first layout are written as asked and refused where read; one too small
   * for struct_size itself is not written at all. */
  ds_chat_message_init_sized(&u.m, 40);
  CHECK(u.m.struct_size == 40);
  CHECK_FAILS(ds_chat_encode(&u.m, 1, NULL, 0, &fmt, a, sizeof a, &la), DS_INVALID_ARGUMENT, "struct_size is 40");
  ds_chat_message_init_sized(&u.m, 4);
  CHECK(u.m.struct_size == 40);
  ds_chat_message_init_sized(NULL, sizeof u.m);
  (ds_chat_message_init)(NULL);
}

int main(int argc, char **argv) {
  ds_model *v41 = NULL, *flash = NULL;
  ds_tokenizer *tok = NULL, *flash_tok = NULL;
  ds_image *img = NULL;
  ds_video *video = NULL;
  unsigned char *png;
  size_t png_size = 0;
  if (argc != 4) {
    fprintf(stderr, "usage: c_api_vision_test V41_TINY_DIR V4_TINY_DIR IMAGE.png\n");
    return 2;
  }
  CHECK(ds_abi_version() >= 1004 && DS_ABI_VERSION >= 1004);
  png = read_file(argv[3], &png_size);
  if (!png) {
    fprintf(stderr, "cannot read the test image %s\n", argv[3]);
    return 1;
  }
  CHECK_OK(ds_model_load(argv[1], NULL, &v41));
  CHECK_OK(ds_tokenizer_load(argv[1], &tok));
  CHECK_OK(ds_model_load(argv[2], NULL, &flash));
  CHECK_OK(ds_tokenizer_load(argv[2], &flash_tok));
  CHECK(write_frames(png, png_size));
  if (v41 && tok && flash && flash_tok) {
    img = test_images(argv[3], png, png_size);
    test_image_sessions(v41, tok, img);
    test_no_vision(flash, img);
    video = test_video(v41, img);
    test_chat_images(v41, tok, img, video);
    test_chat_without_vision(flash, flash_tok, img);
    test_older_messages(v41, tok);
  }
  remove_frames();
  ds_video_destroy(video);
  ds_image_destroy(img);
  ds_tokenizer_destroy(flash_tok);
  ds_model_destroy(flash);
  ds_tokenizer_destroy(tok);
  ds_model_destroy(v41);
  free(png);
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("c_api_vision_test: all checks passed\n");
  return 0;
}

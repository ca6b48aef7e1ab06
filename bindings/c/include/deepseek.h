/* deepseek.h: the stable C99 ABI of the deepseek inference library (DeepSeek V4).
 *
 * Conventions (bindings/c/README.md has the long form):
 * - Handles are opaque. Every ds_x_create/ds_x_load has a ds_x_destroy that accepts NULL.
 * - Fallible functions return ds_status. On failure ds_last_error() holds a message for the
 *   calling thread, and out-parameters are left untouched (handles stay NULL if they were).
 * - Structs have no hidden padding (reserved fields fill it), so struct_size == sizeof and
 *   arrays of structs can be read with struct_size as their stride.
 * - Parameter structs begin with `size_t struct_size`; fill them with ds_x_params_init() and
 *   then set fields. The library reads only the first struct_size bytes (fields added in later
 *   versions take their defaults). A struct_size smaller than the first published layout is
 *   DS_INVALID_ARGUMENT; one larger than this library knows is accepted only when the unknown
 *   tail is all zero bytes (DS_UNSUPPORTED otherwise). A NULL params pointer means defaults.
 *   ds_chat_message, which grew in 1.4, is filled with the size the caller compiled
 *   (ds_chat_message_init is a macro for ds_chat_message_init_sized; see there).
 *   Output structs (ds_model_config, ds_generation_stats, ds_tool_call) follow the same rule:
 *   set struct_size = sizeof(the struct) and the library writes only that many bytes.
 * - Variable-size results computed on demand (token ids, text) go to caller buffers:
 *   (buf, capacity, size_t *out_size). *out_size always receives the size needed (elements;
 *   for text, bytes without the terminating NUL). With buf == NULL and capacity == 0 the call
 *   is a size query and returns DS_OK; a buffer too small is DS_OUT_OF_RANGE and holds nothing
 *   useful. Text is written NUL-terminated, so it needs capacity >= size + 1.
 * - Data held by a handle (config strings, replies, logits) is returned as borrowed pointers,
 *   valid for as long as the documentation beside the getter says; never free them.
 * - Strings are UTF-8. Input strings are NUL-terminated unless a length is passed; NULL
 *   string fields in input structs mean "".
 * - No C++ exception crosses this boundary.
 */
#ifndef DEEPSEEK_H_
#define DEEPSEEK_H_

#include <stddef.h>
#include <stdint.h>

#if defined(DS_C_BUILDING_LIBRARY)
#define DS_API __attribute__((visibility("default")))
#else
#define DS_API
#endif

/* C++ callers learn that nothing throws; the definitions are checked against it. */
#if defined(__cplusplus)
#define DS_NOEXCEPT noexcept
extern "C" {
#else
#define DS_NOEXCEPT
#endif

/* ---------------------------------------------------------------------------------------- */
/* Versions                                                                                  */

/* The library release. The build checks these against project(VERSION). */
#define DS_VERSION_MAJOR 0
#define DS_VERSION_MINOR 1
#define DS_VERSION_PATCH 0
#define DS_VERSION_STRING "0.1.0"
#define DS_VERSION_NUMBER (DS_VERSION_MAJOR * 1000000 + DS_VERSION_MINOR * 1000 + DS_VERSION_PATCH)

/* The ABI of this header. MAJOR changes only with an incompatible change (it is the shared
 * library's SOVERSION: libdeepseek_c.so.MAJOR); MINOR grows when functions, enum values or
 * trailing struct fields are added. A program built against MAJOR.MINOR runs with any library
 * of the same MAJOR and a MINOR at least as large. */
#define DS_ABI_VERSION_MAJOR 1
#define DS_ABI_VERSION_MINOR 4
#define DS_ABI_VERSION (DS_ABI_VERSION_MAJOR * 1000 + DS_ABI_VERSION_MINOR)

/* DS_VERSION_NUMBER of the loaded library (may differ from the header's). Thread-safe. */
DS_API uint32_t ds_version(void) DS_NOEXCEPT;
/* "MAJOR.MINOR.PATCH" of the loaded library; static storage. Thread-safe. */
DS_API const char *ds_version_string(void) DS_NOEXCEPT;
/* DS_ABI_VERSION of the loaded library. Compare with the header's:
 * ds_abi_version() / 1000 == DS_ABI_VERSION_MAJOR && ds_abi_version() >= DS_ABI_VERSION. */
DS_API uint32_t ds_abi_version(void) DS_NOEXCEPT;

/* ---------------------------------------------------------------------------------------- */
/* Status and errors                                                                         */

/* Values are never renumbered or reused; new codes are appended. */
typedef enum ds_status {
  DS_OK = 0,
  DS_INVALID_ARGUMENT = 1,    /* a caller-supplied value is wrong (NULL handle, token id, size) */
  DS_NOT_FOUND = 2,           /* a file or tensor that must exist does not */
  DS_IO_ERROR = 3,            /* the operating system refused a read, map or open */
  DS_CORRUPT_FILE = 4,        /* a file exists but its bytes are malformed */
  DS_INVALID_CONFIG = 5,      /* config.json is missing fields or disagrees with the tensors */
  DS_UNSUPPORTED = 6,         /* valid input this build cannot handle */
  DS_OUT_OF_MEMORY = 7,
  DS_OUT_OF_RANGE = 8,        /* a limit is exceeded (context length, caller buffer too small) */
  DS_FAILED_PRECONDITION = 9, /* call made in the wrong state */
  DS_CANCELLED = 10,
  DS_INTERNAL = 11,
  DS_RESOURCE_EXHAUSTED = 12  /* a memory budget is used up (the KV cache budget) */
} ds_status;

/* "OK", "INVALID_ARGUMENT", ...; "UNKNOWN" for a value this library does not know. Static
 * storage. Thread-safe. */
DS_API const char *ds_status_string(ds_status status) DS_NOEXCEPT;

/* The message of the most recent ds_* call on the calling thread that returns ds_status
 * ("" after a success; ds_reply_parse_status, which reports a stored status, leaves it
 * alone). Thread-local storage, valid until the next such call on this thread. Never NULL. */
DS_API const char *ds_last_error(void) DS_NOEXCEPT;

/* ---------------------------------------------------------------------------------------- */
/* Models                                                                                    */

/* A loaded checkpoint: immutable, memory-mapped weights. Thread-safe: any number of sessions
 * and generators on any threads may use one model. They keep it alive, so the handle may be
 * destroyed while they still run. */
typedef struct ds_model ds_model;

/* Called during loading with a fraction in [0, 1] and the stage's name (valid during the
 * call only), on the loading thread. */
typedef void (*ds_load_progress_fn)(float fraction, const char *stage, void *user_data);

typedef struct ds_model_load_params {
  size_t struct_size;
  ds_load_progress_fn progress; /* NULL = no progress reports */
  void *progress_user_data;     /* passed to progress as is */
} ds_model_load_params;

/* Sets defaults and struct_size. */
DS_API void ds_model_load_params_init(ds_model_load_params *params) DS_NOEXCEPT;

/* Loads a checkpoint folder as DeepSeek publishes it (config.json,
 * model.safetensors.index.json, shards). On success *out owns a new model (destroy it with
 * ds_model_destroy). Errors name the file, tensor or field at fault. params may be NULL. */
DS_API ds_status ds_model_load(const char *dir, const ds_model_load_params *params,
                               ds_model **out) DS_NOEXCEPT;
/* Releases the handle (NULL is a no-op). Borrowed pointers from it become invalid. */
DS_API void ds_model_destroy(ds_model *model) DS_NOEXCEPT;

/* The hyperparameters of a model (Hugging Face config.json names in comments). Pointers are
 * borrowed from the model handle: valid until ds_model_destroy. */
typedef struct ds_model_config {
  size_t struct_size;
  const char *model_type;          /* model_type, "deepseek_v4" */
  int64_t vocab_size;              /* vocab_size */
  int64_t hidden_size;             /* hidden_size */
  int32_t n_layers;                /* num_hidden_layers */
  int32_t n_mtp_layers;            /* num_nextn_predict_layers */
  int32_t n_hash_layers;           /* num_hash_layers */
  int32_t n_heads;                 /* num_attention_heads */
  int32_t head_dim;                /* head_dim */
  int32_t rope_dim;                /* qk_rope_head_dim */
  int32_t q_lora_rank;             /* q_lora_rank */
  int32_t o_groups;                /* o_groups */
  int32_t o_lora_rank;             /* o_lora_rank */
  int32_t window;                  /* sliding_window */
  const int32_t *compress_ratios;  /* compress_ratios: one per layer, then per MTP layer */
  size_t n_compress_ratios;
  double rope_theta;               /* rope_theta */
  double compress_rope_theta;      /* compress_rope_theta */
  double rope_factor;              /* rope_scaling.factor */
  int64_t rope_original_len;       /* rope_scaling.original_max_position_embeddings */
  double beta_fast;                /* rope_scaling.beta_fast */
  double beta_slow;                /* rope_scaling.beta_slow */
  int64_t max_positions;           /* max_position_embeddings */
  int32_t index_heads;             /* index_n_heads */
  int32_t index_head_dim;          /* index_head_dim */
  int32_t index_topk;              /* index_topk */
  int32_t n_experts;               /* n_routed_experts */
  int32_t n_active_experts;        /* num_experts_per_tok */
  int32_t n_shared_experts;        /* n_shared_experts */
  int64_t moe_inter_dim;           /* moe_intermediate_size */
  const char *scoring_func;        /* scoring_func */
  double route_scale;              /* routed_scaling_factor */
  double swiglu_limit;             /* swiglu_limit (0 = no clamp) */
  int32_t norm_topk_prob;          /* norm_topk_prob (0 or 1) */
  int32_t hc_mult;                 /* hc_mult */
  int32_t hc_sinkhorn_iters;       /* hc_sinkhorn_iters */
  int32_t bos_token_id;            /* bos_token_id */
  double hc_eps;                   /* hc_eps */
  double norm_eps;                 /* rms_norm_eps */
  int32_t eos_token_id;            /* eos_token_id */
  int32_t reserved0;               /* zero */
  const char *expert_dtype;        /* expert_dtype ("fp4" or "") */
  uint64_t weight_bytes;           /* bytes of tensor data in the checkpoint (mapped) */
} ds_model_config;

/* Fills *config (set config->struct_size first). Thread-safe. */
DS_API ds_status ds_model_get_config(const ds_model *model, ds_model_config *config) DS_NOEXCEPT;

/* ---------------------------------------------------------------------------------------- */
/* Images and video (ABI 1.4)                                                                */

/* A picture as 8-bit RGB, for a model with a vision tower (V4.1): sessions take it with
 * ds_session_prefill_image, chat messages carry it in ds_chat_message.images. Immutable:
 * thread-safe. */
typedef struct ds_image ds_image;

/* Decodes a PNG or JPEG file as the reference reads images (alpha dropped, grey replicated,
 * palettes expanded, EXIF orientation ignored). A file that cannot be read is DS_NOT_FOUND;
 * another format, a truncated or corrupt file, or more than 178,956,970 pixels is
 * DS_INVALID_ARGUMENT; both name the file. On success *out owns a new image. */
DS_API ds_status ds_image_load(const char *path, ds_image **out) DS_NOEXCEPT;
/* The same from a file's bytes[0, n_bytes), the format sniffed from its signature; errors
 * name the image `name` (NULL = "image"). */
DS_API ds_status ds_image_decode(const void *bytes, size_t n_bytes, const char *name,
                                 ds_image **out) DS_NOEXCEPT;
/* An image of width x height pixels (both > 0) from rgb[0, rgb_size): rows top to bottom,
 * pixels left to right, 3 bytes each (R, G, B), so rgb_size must be width * height * 3. The
 * pixels are copied. */
DS_API ds_status ds_image_from_rgb(int64_t width, int64_t height, const uint8_t *rgb,
                                   size_t rgb_size, ds_image **out) DS_NOEXCEPT;
/* Releases the handle (NULL is a no-op). */
DS_API void ds_image_destroy(ds_image *image) DS_NOEXCEPT;
/* The image's width and height in pixels. */
DS_API ds_status ds_image_size(const ds_image *image, int64_t *width, int64_t *height) DS_NOEXCEPT;
/* The pixels in ds_image_from_rgb's order; *n_bytes (may be NULL) receives
 * width * height * 3. Borrowed: valid until ds_image_destroy. NULL (and 0) for NULL. */
DS_API const uint8_t *ds_image_rgb(const ds_image *image, size_t *n_bytes) DS_NOEXCEPT;

/* 1 when the model takes images (V4.1 with a vision tower), else 0 (also for NULL). */
DS_API int ds_model_has_vision(const ds_model *model) DS_NOEXCEPT;
/* The positions the image's span takes in a sequence: how far ds_session_prefill_image
 * advances a session. DS_UNSUPPORTED for a model without vision. Thread-safe. */
DS_API ds_status ds_model_image_positions(const ds_model *model, const ds_image *image,
                                          int64_t *positions) DS_NOEXCEPT;

/* The text that marks an image's place in a chat message's content: the V4.1 tokenizer's image
 * token. */
#define DS_IMAGE_PLACEHOLDER "<｜deepseek_image｜>"

/* Video is our construction (V4.1 has no video-specific input that we know of): a clip is
 * its frames in order, each an image (give them as a message's images, or prefill them one by
 * one). These parameters choose the frames. */
typedef struct ds_video_params {
  size_t struct_size;
  int64_t frame_stride;      /* default 1: frames 0, stride, 2 * stride, ... are taken */
  int64_t max_visual_tokens; /* default 8192: frames are taken while their image spans fit in
                                this many positions */
} ds_video_params;

DS_API void ds_video_params_init(ds_video_params *params) DS_NOEXCEPT;

/* The frames of a clip. Immutable: thread-safe. */
typedef struct ds_video ds_video;

/* The images of folder `dir` (.png, .jpg, .jpeg, any case) in name order, the ones params
 * (NULL = defaults) select for `model`, whose vision tower plans each frame's span (the frames
 * are taken to share the first one's size). DS_NOT_FOUND for a folder that cannot be read or
 * holds no image, DS_UNSUPPORTED for a model without vision, DS_INVALID_ARGUMENT for a bad
 * parameter or frame. On success *out owns the frames. */
DS_API ds_status ds_video_load(const char *dir, const ds_model *model, const ds_video_params *params,
                               ds_video **out) DS_NOEXCEPT;
/* Releases the frames (NULL is a no-op). */
DS_API void ds_video_destroy(ds_video *video) DS_NOEXCEPT;
/* The frames in order, *n_frames of them (n_frames may be NULL): an array that can be given
 * as ds_chat_message.images as it is. Borrowed, the array and its images: valid until
 * ds_video_destroy. NULL (and 0) for NULL. */
DS_API const ds_image *const *ds_video_frames(const ds_video *video, size_t *n_frames) DS_NOEXCEPT;

/* ---------------------------------------------------------------------------------------- */
/* Tokenizer                                                                                 */

/* DeepSeek's byte-level BPE tokenizer (tokenizer.json). Immutable: thread-safe. Generators
 * keep it alive, so the handle may be destroyed while they run. */
typedef struct ds_tokenizer ds_tokenizer;

/* Loads tokenizer.json: `path` is the file or a checkpoint folder holding one. On success
 * *out owns a new tokenizer. */
DS_API ds_status ds_tokenizer_load(const char *path, ds_tokenizer **out) DS_NOEXCEPT;
/* Releases the handle (NULL is a no-op). */
DS_API void ds_tokenizer_destroy(ds_tokenizer *tokenizer) DS_NOEXCEPT;

/* One past the largest token id; 0 for NULL. */
DS_API int64_t ds_tokenizer_vocab_size(const ds_tokenizer *tokenizer) DS_NOEXCEPT;

/* Token ids of text[0, text_len) (UTF-8; invalid UTF-8 is DS_INVALID_ARGUMENT). Special-token
 * texts become their single ids; no BOS is added. Caller-buffer convention: ids[capacity],
 * *n_ids = the number of ids. */
DS_API ds_status ds_tokenize(const ds_tokenizer *tokenizer, const char *text, size_t text_len,
                             int32_t *ids, size_t capacity, size_t *n_ids) DS_NOEXCEPT;

/* The text of ids[0, n_ids): token bytes concatenated, special tokens as text unless
 * skip_special is nonzero; invalid UTF-8 becomes U+FFFD. An id that is no token is
 * DS_INVALID_ARGUMENT. Caller-buffer convention: text[capacity], *text_len bytes (no NUL). */
DS_API ds_status ds_detokenize(const ds_tokenizer *tokenizer, const int32_t *ids, size_t n_ids,
                               int skip_special, char *text, size_t capacity,
                               size_t *text_len) DS_NOEXCEPT;

/* The raw bytes of one token (not necessarily valid UTF-8 alone). Caller-buffer convention.
 * An id that is no token is DS_INVALID_ARGUMENT. */
DS_API ds_status ds_token_bytes(const ds_tokenizer *tokenizer, int32_t id, char *bytes,
                                size_t capacity, size_t *n_bytes) DS_NOEXCEPT;

/* The id of an exact token text (an added token such as "<｜User｜>" or a byte-level
 * vocabulary entry); DS_NOT_FOUND when there is none. */
DS_API ds_status ds_token_id(const ds_tokenizer *tokenizer, const char *token_text,
                             int32_t *id) DS_NOEXCEPT;

/* 1 when `id` is an added token flagged special, else 0 (also for NULL or unknown ids). */
DS_API int ds_token_is_special(const ds_tokenizer *tokenizer, int32_t id) DS_NOEXCEPT;

/* ---------------------------------------------------------------------------------------- */
/* Chat format                                                                               */

/* The three ways a user asks V4 to answer. */
typedef enum ds_chat_mode {
  DS_CHAT_MODE_FAST = 0,      /* no reasoning: the prompt ends with </think> */
  DS_CHAT_MODE_EXPERT = 1,    /* reasoning first: the prompt ends with <think> */
  DS_CHAT_MODE_EXPERT_MAX = 2 /* reasoning with the maximum-effort instructions */
} ds_chat_mode;

/* "fast", "expert", "expert-max"; "unknown" otherwise. Static storage. */
DS_API const char *ds_chat_mode_name(ds_chat_mode mode) DS_NOEXCEPT;
/* Parses "fast", "expert" or "expert-max" (DS_INVALID_ARGUMENT otherwise). */
DS_API ds_status ds_chat_mode_parse(const char *name, ds_chat_mode *mode) DS_NOEXCEPT;

/* One tool call of an assistant message. As input, the strings are the caller's and are read
 * during the call only; as output (ds_reply_tool_call), they are borrowed from the reply. */
typedef struct ds_tool_call {
  size_t struct_size;
  const char *id;        /* the caller's call id ("" for parsed output) */
  const char *name;
  const char *arguments; /* a JSON object, as text */
} ds_tool_call;

DS_API void ds_tool_call_init(ds_tool_call *call) DS_NOEXCEPT;

/* One chat message; read during the call only. Arrays of messages are read with the first
 * element's struct_size as stride, and every element must carry the same struct_size. */
typedef struct ds_chat_message {
  size_t struct_size;
  const char *role;                 /* "system", "user", "assistant", "tool", "developer",
                                       "latest_reminder" */
  const char *content;
  const char *reasoning_content;    /* assistant: reasoning of a thinking turn */
  const ds_tool_call *tool_calls;   /* assistant: n_tool_calls calls (same stride rule) */
  size_t n_tool_calls;
  const char *tool_call_id;         /* tool: which call this is the result of */
  const char *tools_json;           /* system/developer: an OpenAI "tools" list, JSON text */
  const char *response_format_json; /* system/developer: a JSON schema the reply must follow */
  const char *task;                 /* quick-instruction task ("action", "query", ...); "" = none */
  int32_t wo_eos;                   /* assistant: nonzero leaves the turn open (continuation) */
  int32_t reserved0;                /* zero (set by init) */
  /* Since 1.4. user, for a model with vision: n_images images (read during the call only).
     Each stands where the content has DS_IMAGE_PLACEHOLDER, in order, or, when the content
     has none, all stand before its text. */
  const ds_image *const *images;
  size_t n_images;
} ds_chat_message;

/* Sets defaults and struct_size = size in a message of `size` bytes, as the caller's
 * program sees sizeof(ds_chat_message) (ABI 1.4). It writes exactly `size` bytes (the fields
 * this library knows, zeros past them), so a program built against any version of this
 * header gets its whole struct filled and nothing beyond it. */
DS_API void ds_chat_message_init_sized(ds_chat_message *message, size_t size) DS_NOEXCEPT;
/* Fills the 1.3 layout (the 88 bytes up to reserved0; struct_size 88): the message programs
 * built before 1.4 have, which an init function cannot tell from a larger one. Since 1.4
 * this header makes ds_chat_message_init(m) a macro for
 * ds_chat_message_init_sized(m, sizeof *(m)), so callers compiled against it fill their whole
 * struct; a binding that calls the function by name mirrors the 1.3 layout, or calls
 * ds_chat_message_init_sized with the size of the layout it mirrors. */
DS_API void ds_chat_message_init(ds_chat_message *message) DS_NOEXCEPT;
#define ds_chat_message_init(message) ds_chat_message_init_sized((message), sizeof *(message))

typedef struct ds_chat_format_params {
  size_t struct_size;
  ds_chat_mode mode;     /* default DS_CHAT_MODE_EXPERT */
  int32_t drop_thinking; /* default 1: drop reasoning of earlier turns (unless tools are present) */
  int32_t add_bos;       /* default 1: start with <｜begin▁of▁sentence｜> (not with a context) */
  int32_t reserved0;     /* zero (set by init) */
} ds_chat_format_params;

DS_API void ds_chat_format_params_init(ds_chat_format_params *params) DS_NOEXCEPT;

/* The prompt text for messages[0, n_messages) in the V4 chat format, ending in the generation
 * prompt when the last message asks for a reply. context[0, n_context) are earlier messages
 * already encoded (may be NULL/0): only `messages` are rendered. Caller-buffer convention.
 * Errors name the message index and field. Thread-safe. */
DS_API ds_status ds_chat_encode(const ds_chat_message *messages, size_t n_messages,
                                const ds_chat_message *context, size_t n_context,
                                const ds_chat_format_params *params, char *prompt,
                                size_t capacity, size_t *prompt_len) DS_NOEXCEPT;

/* The same from a request in the JSON form of the official test vectors ({"messages": [...],
 * "thinking_mode", "reasoning_effort", "drop_thinking", "add_default_bos_token", "context"}).
 * Caller-buffer convention. Thread-safe. */
DS_API ds_status ds_chat_encode_json(const char *request_json, size_t request_len, char *prompt,
                                     size_t capacity, size_t *prompt_len) DS_NOEXCEPT;

/* ---------------------------------------------------------------------------------------- */
/* Sampling                                                                                  */

typedef struct ds_logit_bias {
  int32_t token;
  float bias; /* added to the token's logit; -INFINITY bans it */
} ds_logit_bias;

typedef struct ds_sampling_params {
  size_t struct_size;
  float temperature;        /* default 1; 0 = greedy */
  int32_t top_k;            /* default 0 = off */
  float top_p;              /* default 1 = off */
  float min_p;              /* default 0 = off */
  float repetition_penalty; /* default 1 = off */
  float presence_penalty;   /* default 0 */
  float frequency_penalty;  /* default 0 */
  int32_t reserved0;        /* zero (set by init) */
  const ds_logit_bias *logit_bias; /* n_logit_bias entries, read during the call only */
  size_t n_logit_bias;
  uint64_t seed;            /* the same seed, params and inputs give the same tokens */
} ds_sampling_params;

DS_API void ds_sampling_params_init(ds_sampling_params *params) DS_NOEXCEPT;

/* A seeded token sampler for raw-session loops. One thread at a time. */
typedef struct ds_sampler ds_sampler;

/* Checks params (NULL = defaults) against a vocabulary of vocab_size tokens. */
DS_API ds_status ds_sampler_create(const ds_sampling_params *params, int64_t vocab_size,
                                   ds_sampler **out) DS_NOEXCEPT;
DS_API void ds_sampler_destroy(ds_sampler *sampler) DS_NOEXCEPT;
/* Picks a token from logits[n_logits] (n_logits must be vocab_size); history[0, n_history)
 * holds the tokens the penalties apply to (may be NULL/0). */
DS_API ds_status ds_sampler_sample(ds_sampler *sampler, const float *logits, size_t n_logits,
                                   const int32_t *history, size_t n_history,
                                   int32_t *token) DS_NOEXCEPT;

/* ---------------------------------------------------------------------------------------- */
/* Sessions: raw prefill / decode / logits                                                   */

/* ---------------------------------------------------------------------------------------- */
/* KV caches                                                                                 */

/* Where sessions keep their KV caches: pages in the packed V4 formats (584-byte latents,
 * 68-byte MXFP4 indexer keys) under a byte budget. Sessions sharing a cache share pages, so
 * snapshots restore across them without copying. Thread-safe; sessions and snapshots keep it
 * alive, so the handle may be destroyed while they still use it. */
typedef struct ds_kv_cache ds_kv_cache;

typedef struct ds_kv_cache_params {
  size_t struct_size;
  uint64_t budget_bytes; /* default 0 = no limit; a request past it fails with
                            DS_RESOURCE_EXHAUSTED and leaves its session unchanged */
  /* Since 1.2. The disk tier (see deepseek::KvCacheOptions): a folder for memory-mapped page
     files (NULL = none), and the bytes of pages kept in RAM before the others go there. */
  const char *tier_dir;
  uint64_t ram_bytes;
} ds_kv_cache_params;

DS_API void ds_kv_cache_params_init(ds_kv_cache_params *params) DS_NOEXCEPT;
/* A new, empty cache for sessions of `model` (which it keeps alive). params may be NULL. */
DS_API ds_status ds_kv_cache_create(const ds_model *model, const ds_kv_cache_params *params,
                                    ds_kv_cache **out) DS_NOEXCEPT;
DS_API void ds_kv_cache_destroy(ds_kv_cache *cache) DS_NOEXCEPT;

typedef struct ds_kv_cache_stats {
  size_t struct_size;
  uint64_t budget_bytes;    /* 0: no limit */
  uint64_t bytes_in_use;    /* pages referenced by sessions and snapshots */
  uint64_t bytes_storage;   /* memory set aside for pages, in use or free */
  int64_t tokens_available; /* tokens one more sequence could grow to in what is left */
  uint64_t bytes_tiered;    /* since 1.2: of bytes_storage, in the disk tier */
} ds_kv_cache_stats;

/* Fills *stats (set stats->struct_size first). */
DS_API ds_status ds_kv_cache_get_stats(const ds_kv_cache *cache, ds_kv_cache_stats *stats) DS_NOEXCEPT;

/* Bytes one sequence of `tokens` tokens holds in a KV cache (whole pages; with with_mtp
 * nonzero, as a session with enable_mtp holds them); 0 for NULL. */
DS_API uint64_t ds_model_kv_bytes_for_tokens(const ds_model *model, int64_t tokens,
                                             int32_t with_mtp) DS_NOEXCEPT;
/* The longest sequence whose pages fit in `bytes`; -1 for NULL. */
DS_API int64_t ds_model_kv_tokens_for_bytes(const ds_model *model, uint64_t bytes,
                                            int32_t with_mtp) DS_NOEXCEPT;

/* One sequence being processed by a model: its caches and position. One thread at a time. */
typedef struct ds_session ds_session;

/* Called after each prefill chunk with (tokens done, tokens total), on the calling thread;
 * return nonzero to cancel (DS_CANCELLED). */
typedef int (*ds_prefill_progress_fn)(int64_t done, int64_t total, void *user_data);

/* Joins the decode steps of generators running on different threads into one forward pass
 * (ds_session_params.batcher); see deepseek::DecodeBatcher. Thread-safe. */
typedef struct ds_decode_batcher ds_decode_batcher;
DS_API ds_status ds_decode_batcher_create(ds_decode_batcher **out) DS_NOEXCEPT;
DS_API void ds_decode_batcher_destroy(ds_decode_batcher *batcher) DS_NOEXCEPT;

typedef struct ds_session_params {
  size_t struct_size;
  int32_t num_threads;    /* default 0 = one per hardware core */
  int32_t enable_mtp;     /* default 0; nonzero keeps what ds_session_mtp_logits needs */
  int64_t max_context;    /* default 0 = the model's maximum */
  int64_t prefill_chunk;  /* default 512 tokens */
  ds_prefill_progress_fn progress; /* NULL = none */
  void *progress_user_data;
  ds_kv_cache *kv_cache;  /* NULL = a cache of the session's own, without a budget; else a
                             cache of the same model, shared (the session keeps it alive) */
  int32_t speculative;    /* generators only (ABI 1.3); default 1: decoding drafts with the
                             model's MTP head where it has one and where that reads less per
                             token (greedy: the same tokens; sampled: the same distribution);
                             0 decodes one token per step */
  int32_t reserved;       /* 0 */
  ds_decode_batcher *batcher; /* generators only (ABI 1.3); NULL = none; else their decode steps
                                 are batched with those of other generators given the same
                                 batcher (which they keep alive), and they do not draft */
} ds_session_params;

DS_API void ds_session_params_init(ds_session_params *params) DS_NOEXCEPT;

/* A new, empty session over `model` (which it keeps alive). params may be NULL. */
DS_API ds_status ds_session_create(const ds_model *model, const ds_session_params *params,
                                   ds_session **out) DS_NOEXCEPT;
DS_API void ds_session_destroy(ds_session *session) DS_NOEXCEPT;

/* Appends tokens[0, n_tokens) and computes the logits after the last one. An invalid request,
 * or one its KV cache's budget cannot hold (DS_RESOURCE_EXHAUSTED), leaves the session
 * unchanged; a cancelled one keeps the finished chunks; any other failure resets it. */
DS_API ds_status ds_session_prefill(ds_session *session, const int32_t *tokens,
                                    size_t n_tokens) DS_NOEXCEPT;
/* ds_session_prefill of one token. */
DS_API ds_status ds_session_decode(ds_session *session, int32_t token) DS_NOEXCEPT;
/* Decodes tokens[i] in sessions[i] for i < n, in one forward pass that reads the weights once
 * for all of them (ABI 1.3); each session's logits are those of its own ds_session_decode.
 * The sessions must be distinct and of one model; the pass runs on the first one's threads.
 * An invalid request changes no session; any other failure resets them all. */
DS_API ds_status ds_session_decode_batch(ds_session *const *sessions, const int32_t *tokens,
                                         size_t n) DS_NOEXCEPT;
/* Appends `image` as an image span (ds_model_image_positions positions, each holding the image
 * token, whose embeddings come from the vision encoder) and computes the logits after it
 * (ABI 1.4). Failures are those of ds_session_prefill, and so are their effects: a model
 * without vision (DS_UNSUPPORTED), a bad image (DS_INVALID_ARGUMENT) or one past the capacity
 * (DS_OUT_OF_RANGE) leaves the session unchanged. (In a model with vision,
 * ds_session_prefill refuses the image token itself: it marks image spans, which only this
 * function makes.) */
DS_API ds_status ds_session_prefill_image(ds_session *session, const ds_image *image) DS_NOEXCEPT;

/* Logits [vocab_size] after the last token consumed; *n_logits receives the count (0 and
 * NULL before the first prefill). Borrowed: valid until the next prefill, decode, reset,
 * restore or destroy of this session. */
DS_API const float *ds_session_logits(const ds_session *session, size_t *n_logits) DS_NOEXCEPT;

/* Logits of the MTP head at the last position given the token that follows it (needs
 * enable_mtp). Caller-buffer convention (floats). */
DS_API ds_status ds_session_mtp_logits(ds_session *session, int32_t next_token, float *logits,
                                       size_t capacity, size_t *n_logits) DS_NOEXCEPT;

/* Tokens consumed so far / tokens the session may hold; -1 for NULL. */
DS_API int64_t ds_session_position(const ds_session *session) DS_NOEXCEPT;
DS_API int64_t ds_session_capacity(const ds_session *session) DS_NOEXCEPT;
/* The tokens consumed; borrowed like ds_session_logits. */
DS_API const int32_t *ds_session_tokens(const ds_session *session, size_t *n_tokens) DS_NOEXCEPT;
/* Back to an empty sequence (NULL is a no-op). */
DS_API void ds_session_reset(ds_session *session) DS_NOEXCEPT;

/* A saved copy of a session's sequence. Immutable: thread-safe. */
typedef struct ds_snapshot ds_snapshot;

/* Saves the sequence as it is now into a new snapshot; it shares the KV cache's pages with the
 * session (a page is copied only when one of them writes it). */
DS_API ds_status ds_session_snapshot(const ds_session *session, ds_snapshot **out) DS_NOEXCEPT;
/* Puts `session` back to `snapshot` (which must come from a session of the same model): sharing
 * pages within one KV cache, copying rows from another. */
DS_API ds_status ds_session_restore(ds_session *session, const ds_snapshot *snapshot) DS_NOEXCEPT;
/* Writes the session's sequence to `path` (atomically: a file that exists always loads) in a
 * versioned, checksummed format that names the model; Session::Save in the C++ API. */
DS_API ds_status ds_session_save(const ds_session *session, const char *path) DS_NOEXCEPT;
/* Replaces the session's sequence with the one saved at `path`. A missing (DS_NOT_FOUND),
 * damaged (DS_CORRUPT_FILE), foreign-model (DS_INVALID_ARGUMENT) or other-version
 * (DS_UNSUPPORTED) file is refused with the cause and leaves the session unchanged. */
DS_API ds_status ds_session_load(ds_session *session, const char *path) DS_NOEXCEPT;
/* Tokens the snapshot holds; -1 for NULL. */
DS_API int64_t ds_snapshot_position(const ds_snapshot *snapshot) DS_NOEXCEPT;
DS_API void ds_snapshot_destroy(ds_snapshot *snapshot) DS_NOEXCEPT;

/* ---------------------------------------------------------------------------------------- */
/* Generation: chats and raw prompts, streamed                                               */

/* Which part of a reply a streamed piece belongs to. */
typedef enum ds_channel {
  DS_CHANNEL_REASONING = 0,
  DS_CHANNEL_CONTENT = 1,   /* also every piece of raw-token generation */
  DS_CHANNEL_TOOL_CALL = 2  /* the DSML text of tool calls */
} ds_channel;

typedef enum ds_finish_reason {
  DS_FINISH_EOS = 0,          /* the model ended its turn (EOS or a stop token) */
  DS_FINISH_STOP_STRING = 1,  /* a stop string appeared (cut with what follows) */
  DS_FINISH_MAX_TOKENS = 2,
  DS_FINISH_CONTEXT_FULL = 3,
  DS_FINISH_CANCELLED = 4     /* the callback returned nonzero, or ds_generator_cancel */
} ds_finish_reason;

/* "eos", "stop_string", ...; "unknown" otherwise. Static storage. */
DS_API const char *ds_finish_reason_name(ds_finish_reason reason) DS_NOEXCEPT;

/* Streaming callback, called on the generating thread for each piece of text: `text` holds
 * text_len bytes of whole UTF-8 characters (NUL-terminated as well), valid during the call
 * only. text_len may be 0 (the token completed no text yet: part of a character, or text
 * held back as a possible marker or stop string); a token whose text spans two channels
 * gives one call per channel. Return nonzero to stop: the call then finishes
 * with DS_FINISH_CANCELLED. */
typedef int (*ds_stream_fn)(int32_t token, const char *text, size_t text_len,
                            ds_channel channel, void *user_data);

typedef struct ds_generation_params {
  size_t struct_size;
  const ds_sampling_params *sampling; /* NULL = defaults; read during the call only */
  int64_t max_tokens;                 /* default 512 (> 0) */
  const char *const *stop_strings;    /* n_stop_strings non-empty texts that end the reply */
  size_t n_stop_strings;
  const int32_t *stop_tokens;         /* n_stop_tokens ids that end the reply, besides EOS */
  size_t n_stop_tokens;
  int32_t ignore_eos;                 /* default 0; nonzero keeps going past EOS */
  int32_t reserved0;                  /* zero (set by init) */
} ds_generation_params;

DS_API void ds_generation_params_init(ds_generation_params *params) DS_NOEXCEPT;

typedef struct ds_generation_stats {
  size_t struct_size;
  int64_t prompt_tokens;     /* tokens of the request's prompt */
  int64_t reused_tokens;     /* of those, already in the session and not recomputed */
  int64_t generated_tokens;  /* tokens sampled, a final stop token included */
  double prefill_seconds;
  double decode_seconds;
  double prefill_tokens_per_second;
  double decode_tokens_per_second;
  int64_t drafted_tokens;    /* since 1.2: MTP drafts verified (speculative decoding, greedy) */
  int64_t accepted_drafts;   /* since 1.2: of those, the ones the model confirmed */
} ds_generation_stats;

/* A finished generation: the parsed reply, the raw tokens and text, the finish reason and
 * timings. Immutable: thread-safe; independent of the generator that made it. */
typedef struct ds_reply ds_reply;

/* A text generator over its own session. It reuses whatever start of a prompt it has already
 * computed, so pass the whole conversation each turn. One thread at a time, except
 * ds_generator_cancel. */
typedef struct ds_generator ds_generator;

/* A generator for model + tokenizer (both kept alive by it; the tokenizer's ids must fit the
 * model's vocabulary). params (NULL = defaults) configure its session. */
DS_API ds_status ds_generator_create(const ds_model *model, const ds_tokenizer *tokenizer,
                                     const ds_session_params *params,
                                     ds_generator **out) DS_NOEXCEPT;
DS_API void ds_generator_destroy(ds_generator *generator) DS_NOEXCEPT;

/* Encodes messages[0, n_messages) in the V4 chat format (format NULL = defaults) and generates
 * the assistant's reply, streamed per channel to on_event (may be NULL). On success *out owns
 * a new reply, also after a cancellation (finish reason DS_FINISH_CANCELLED). */
DS_API ds_status ds_generator_chat(ds_generator *generator, const ds_chat_message *messages,
                                   size_t n_messages, const ds_chat_format_params *format,
                                   const ds_generation_params *params, ds_stream_fn on_event,
                                   void *user_data, ds_reply **out) DS_NOEXCEPT;

/* Generates after the raw token prompt[0, n_prompt) (pieces are DS_CHANNEL_CONTENT; the
 * reply's content is the generated text). */
DS_API ds_status ds_generator_generate(ds_generator *generator, const int32_t *prompt,
                                       size_t n_prompt, const ds_generation_params *params,
                                       ds_stream_fn on_event, void *user_data,
                                       ds_reply **out) DS_NOEXCEPT;

/* From any thread: the chat/generate call in progress stops at its next token or prefill
 * chunk. A call clears earlier requests when it starts, so cancel only a running call.
 * NULL is a no-op. */
DS_API void ds_generator_cancel(ds_generator *generator) DS_NOEXCEPT;

/* Parses a finished completion text (what the model generated after the prompt, special
 * tokens as text, through <｜end▁of▁sentence｜>) into a new reply; thinking != 0 for the
 * expert modes. Malformed output is DS_INVALID_ARGUMENT saying what and where. The reply has
 * no tokens and zero stats. Thread-safe. */
DS_API ds_status ds_chat_parse(const char *completion, size_t completion_len, int thinking,
                               ds_reply **out) DS_NOEXCEPT;

DS_API void ds_reply_destroy(ds_reply *reply) DS_NOEXCEPT;

/* Reply fields, borrowed from the reply (valid until ds_reply_destroy); NUL-terminated, and
 * their byte length goes to *len when len is not NULL. NULL reply gives NULL. For a chat whose
 * output was malformed or cut short, content/reasoning hold what was streamed per channel
 * and ds_reply_parse_status says what was wrong. */
DS_API const char *ds_reply_content(const ds_reply *reply, size_t *len) DS_NOEXCEPT;
DS_API const char *ds_reply_reasoning(const ds_reply *reply, size_t *len) DS_NOEXCEPT;
/* The generated text, special tokens as text, stop token and stop string cut. */
DS_API const char *ds_reply_text(const ds_reply *reply, size_t *len) DS_NOEXCEPT;
/* The parsed reply as JSON: {"role", "content", "reasoning_content", "tool_calls": [...]}. */
DS_API const char *ds_reply_json(const ds_reply *reply, size_t *len) DS_NOEXCEPT;

/* Tool calls of the reply; 0 for NULL. */
DS_API size_t ds_reply_tool_call_count(const ds_reply *reply) DS_NOEXCEPT;
/* Fills *call (set call->struct_size first) with borrowed strings of call `index`;
 * DS_OUT_OF_RANGE past the count. */
DS_API ds_status ds_reply_tool_call(const ds_reply *reply, size_t index,
                                    ds_tool_call *call) DS_NOEXCEPT;

/* Generated token ids (a final EOS or stop token included); borrowed. */
DS_API const int32_t *ds_reply_tokens(const ds_reply *reply, size_t *n_tokens) DS_NOEXCEPT;
DS_API ds_finish_reason ds_reply_finish_reason(const ds_reply *reply) DS_NOEXCEPT;
/* Fills *stats (set stats->struct_size first). */
DS_API ds_status ds_reply_stats(const ds_reply *reply, ds_generation_stats *stats) DS_NOEXCEPT;
/* DS_OK when the output parsed cleanly; otherwise the parse error's code, with its message
 * in *message (borrowed from the reply; may pass NULL). */
DS_API ds_status ds_reply_parse_status(const ds_reply *reply, const char **message) DS_NOEXCEPT;

#if defined(__cplusplus)
} /* extern "C" */
#endif

#endif /* DEEPSEEK_H_ */

// What the C ABI's implementation files share: the handle types behind deepseek.h's opaque
// declarations, the one exception barrier every ds_status entry point goes through, and the
// readers that apply the struct_size rules to caller structs.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "deepseek.h"
#include "deepseek/deepseek.h"

struct ds_model {
  std::shared_ptr<const deepseek::Model> model;
  std::vector<int32_t> compress_ratios;  // ds_model_config points here (the config holds ints)
};

struct ds_image {
  deepseek::Image image;
};

struct ds_video {
  std::vector<std::unique_ptr<ds_image>> frames;
  std::vector<const ds_image*> list;  // ds_video_frames lends this array of the frames above
};

struct ds_tokenizer {
  std::shared_ptr<const deepseek::Tokenizer> tokenizer;
};

struct ds_kv_cache {
  std::shared_ptr<deepseek::KvCache> cache;
};

struct ds_session {
  std::unique_ptr<deepseek::Session> session;
};

struct ds_snapshot {
  deepseek::SessionSnapshot snapshot;
};

struct ds_sampler {
  deepseek::Sampler sampler;
};

struct ds_decode_batcher {
  std::shared_ptr<deepseek::DecodeBatcher> batcher;
};

struct ds_generator {
  std::unique_ptr<deepseek::Generator> generator;
};

struct ds_reply {
  deepseek::ChatMessage message;
  deepseek::Status parse_status;
  deepseek::Generation generation;
  std::string json;  // ChatMessageToJson(message), made once so ds_reply_json can lend it
};

namespace deepseek::capi {

// Records `status` as the calling thread's last error ("" when ok) and returns its code.
ds_status Report(const Status& status) noexcept;

// The exception barrier: runs fn (which throws deepseek::Error, or anything else) and turns
// the outcome into a ds_status plus the thread's last-error message.
template <typename Fn>
ds_status Guard(Fn&& fn) noexcept {
  return Report(CatchAll(std::forward<Fn>(fn)));
}

template <typename T>
T Unwrap(Result<T> result) {
  ThrowIfError(result.status());
  return std::move(result).value();
}

// Fails with kInvalidArgument naming `what` when p is NULL.
template <typename T>
T* Require(T* p, const char* what) {
  if (p == nullptr) Fail(StatusCode::kInvalidArgument, std::string(what) + " is NULL");
  return p;
}

// The integer a caller passed as an enum. A C caller may pass any int, but in C++ a value
// outside the enumerators' range is undefined behaviour once loaded as the enum type, so the
// bytes are copied out instead.
template <typename Enum>
int32_t EnumValue(const Enum& value) {
  static_assert(sizeof(Enum) == sizeof(int32_t));
  int32_t out;
  std::memcpy(&out, &value, sizeof out);
  return out;
}

// NULL input strings mean "".
inline std::string Str(const char* s) { return s ? std::string(s) : std::string(); }

// Bytes of the first published layout of each caller struct: struct_size below this is a
// caller bug (an uninitialised struct). ABI 1.0 is the first layout of every struct; when a
// struct grows, its specialisation keeps the old size so that older callers stay accepted.
template <typename T>
constexpr size_t kFirstLayoutSize = sizeof(T);
template <>  // 1.0: up to progress_user_data (1.1 added kv_cache)
inline constexpr size_t kFirstLayoutSize<ds_session_params> = 48;
template <>  // 1.1: budget_bytes (1.2 added tier_dir, ram_bytes)
inline constexpr size_t kFirstLayoutSize<ds_kv_cache_params> = 16;
template <>  // 1.1: up to tokens_available (1.2 added bytes_tiered)
inline constexpr size_t kFirstLayoutSize<ds_kv_cache_stats> = 40;
template <>  // 1.0: up to decode_tokens_per_second (1.2 added drafted_tokens, accepted_drafts)
inline constexpr size_t kFirstLayoutSize<ds_generation_stats> = 64;
template <>  // 1.0: up to reserved0 (1.4 added images, n_images)
inline constexpr size_t kFirstLayoutSize<ds_chat_message> = 88;

// Validates a caller struct's struct_size (see deepseek.h) and returns a full copy: the
// caller's prefix over the defaults `init` writes.
template <typename T>
T ReadStruct(const T* in, void (*init)(T*), const char* what) {
  T out;
  init(&out);
  if (in == nullptr) return out;
  const size_t size = in->struct_size;
  if (size < kFirstLayoutSize<T>)
    Fail(StatusCode::kInvalidArgument, std::string(what) + ".struct_size is " + std::to_string(size) +
                                           ", less than the smallest layout (" +
                                           std::to_string(kFirstLayoutSize<T>) + "); call its init function first");
  if (size > sizeof(T)) {
    // Fields of a newer header: harmless only when the caller left them at zero.
    const auto* tail = reinterpret_cast<const unsigned char*>(in) + sizeof(T);
    for (size_t i = 0; i < size - sizeof(T); ++i)
      if (tail[i] != 0)
        Fail(StatusCode::kUnsupported, std::string(what) + " sets fields this library version does not know: struct_size " + std::to_string(size) +
                                                           " > " + std::to_string(sizeof(T)));
  }
  std::memcpy(static_cast<void*>(&out), in, size < sizeof(T) ? size : sizeof(T));
  out.struct_size = sizeof(T);
  return out;
}

// Reads count elements of an array of caller structs whose stride is the first element's
// struct_size (every element must repeat it).
template <typename T>
std::vector<T> ReadArray(const T* in, size_t count, void (*init)(T*), const char* what) {
  std::vector<T> out;
  if (count == 0) return out;
  Require(in, what);
  const size_t stride = in->struct_size;
  const auto* base = reinterpret_cast<const unsigned char*>(in);
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const T* element = reinterpret_cast<const T*>(base + i * stride);
    const std::string name = std::string(what) + "[" + std::to_string(i) + "]";
    if (element->struct_size != stride)
      Fail(StatusCode::kInvalidArgument, name + ".struct_size differs from element 0's");
    out.push_back(ReadStruct(element, init, name.c_str()));
  }
  return out;
}

// Writes a library-filled struct into the caller's, which declared its size in struct_size.
template <typename T>
void WriteStruct(const T& full, T* out, const char* what) {
  Require(out, what);
  const size_t size = out->struct_size;
  if (size < kFirstLayoutSize<T>)
    Fail(StatusCode::kInvalidArgument, std::string(what) + ".struct_size is " + std::to_string(size) +
                                           "; set it to sizeof the struct");
  std::memcpy(static_cast<void*>(out), &full, size < sizeof(T) ? size : sizeof(T));
  out->struct_size = size < sizeof(T) ? size : sizeof(T);
}

// The caller-buffer convention of deepseek.h: always report the size; copy when it fits.
// `terminate` adds the NUL that text outputs carry.
void CopyOut(const void* data, size_t count, size_t element_size, void* buffer, size_t capacity,
             size_t* out_size, bool terminate);

inline void CopyText(std::string_view text, char* buffer, size_t capacity, size_t* out_size) {
  CopyOut(text.data(), text.size(), 1, buffer, capacity, out_size, true);
}

// Converters between the C structs and the C++ ones.
SamplingParams ToSampling(const ds_sampling_params* params);
SessionOptions ToSessionOptions(const ds_session_params* params);
ChatFormatOptions ToFormat(const ds_chat_format_params* params);
std::vector<ChatMessage> ToMessages(const ds_chat_message* messages, size_t count, const char* what);

}  // namespace deepseek::capi

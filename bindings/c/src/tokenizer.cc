// Tokenizer: loading, text <-> ids, single-token queries.
#include "internal.h"

using namespace deepseek::capi;
using deepseek::StatusCode;

extern "C" {

ds_status ds_tokenizer_load(const char* path, ds_tokenizer** out) DS_NOEXCEPT {
  return Guard([&] {
    Require(out, "out");
    auto handle = std::make_unique<ds_tokenizer>();
    handle->tokenizer = Unwrap(deepseek::Tokenizer::Load(Require(path, "path")));
    *out = handle.release();
  });
}

void ds_tokenizer_destroy(ds_tokenizer* tokenizer) DS_NOEXCEPT { delete tokenizer; }

int64_t ds_tokenizer_vocab_size(const ds_tokenizer* tokenizer) DS_NOEXCEPT {
  return tokenizer ? tokenizer->tokenizer->vocab_size() : 0;
}

ds_status ds_tokenize(const ds_tokenizer* tokenizer, const char* text, size_t text_len, int32_t* ids,
                      size_t capacity, size_t* n_ids) DS_NOEXCEPT {
  return Guard([&] {
    Require(tokenizer, "tokenizer");
    if (text_len) Require(text, "text");
    const std::vector<int32_t> encoded =
        Unwrap(tokenizer->tokenizer->Encode(std::string_view(text ? text : "", text_len)));
    CopyOut(encoded.data(), encoded.size(), sizeof(int32_t), ids, capacity, n_ids, false);
  });
}

ds_status ds_detokenize(const ds_tokenizer* tokenizer, const int32_t* ids, size_t n_ids, int skip_special,
                        char* text, size_t capacity, size_t* text_len) DS_NOEXCEPT {
  return Guard([&] {
    Require(tokenizer, "tokenizer");
    if (n_ids) Require(ids, "ids");
    const std::string decoded = Unwrap(tokenizer->tokenizer->Decode({ids, n_ids}, skip_special != 0));
    CopyText(decoded, text, capacity, text_len);
  });
}

ds_status ds_token_bytes(const ds_tokenizer* tokenizer, int32_t id, char* bytes, size_t capacity,
                         size_t* n_bytes) DS_NOEXCEPT {
  return Guard([&] {
    Require(tokenizer, "tokenizer");
    const std::string token = tokenizer->tokenizer->TokenBytes(id);
    // Every token stands for at least one byte, so "" marks an id that is none.
    if (token.empty()) Fail(StatusCode::kInvalidArgument, "token id " + std::to_string(id) + " is not a token");
    CopyText(token, bytes, capacity, n_bytes);
  });
}

ds_status ds_token_id(const ds_tokenizer* tokenizer, const char* token_text, int32_t* id) DS_NOEXCEPT {
  return Guard([&] {
    Require(tokenizer, "tokenizer");
    Require(id, "id");
    const std::optional<int32_t> found = tokenizer->tokenizer->TokenId(Require(token_text, "token_text"));
    if (!found) Fail(StatusCode::kNotFound, std::string("no token has the text '") + token_text + "'");
    *id = *found;
  });
}

int ds_token_is_special(const ds_tokenizer* tokenizer, int32_t id) DS_NOEXCEPT {
  return tokenizer && tokenizer->tokenizer->IsSpecial(id) ? 1 : 0;
}

}  // extern "C"

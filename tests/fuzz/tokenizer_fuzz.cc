// libFuzzer target for the tokenizer: encodes arbitrary bytes with the V4 tokenizer of
// ../shared (DS_SHARED_DIR, or the environment variable of that name). Valid UTF-8 must encode
// and decode back to itself, with every id a token; invalid UTF-8 must be refused with
// kInvalidArgument. Anything else (a crash, a sanitizer report, a mismatch) is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "deepseek/tokenizer.h"
#include "core/utf8.h"

namespace {

std::shared_ptr<const deepseek::Tokenizer> LoadOnce() {
  const char* env = std::getenv("DS_SHARED_DIR");
  const std::string dir = env != nullptr && *env != '\0' ? env : DS_SHARED_DIR;
  auto tok = deepseek::Tokenizer::Load(dir + "/tokenizer/deepseek-v4/tokenizer.json");
  if (!tok.ok()) {
    std::fprintf(stderr, "tokenizer_fuzz: %s\n", tok.status().ToString().c_str());
    std::abort();
  }
  return tok.value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::shared_ptr<const deepseek::Tokenizer> tok = LoadOnce();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool valid = deepseek::FirstInvalidUtf8(text) == text.size();
  auto ids = tok->Encode(text);
  if (!valid) {
    if (ids.ok() || ids.status().code() != deepseek::StatusCode::kInvalidArgument) __builtin_trap();
    return 0;
  }
  if (!ids.ok()) __builtin_trap();
  for (const int32_t id : ids.value()) {
    if (id < 0 || id >= tok->vocab_size() || tok->TokenBytes(id).empty()) __builtin_trap();
  }
  auto decoded = tok->Decode(ids.value());
  if (!decoded.ok() || decoded.value() != text) __builtin_trap();
  return 0;
}

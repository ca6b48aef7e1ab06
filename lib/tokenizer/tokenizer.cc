// The public Tokenizer: added-token matching, pre-tokenization and BPE for encoding; byte
// tables for decoding. Internal errors are deepseek::Error, turned into Status here.
#include "deepseek/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "core/error.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer_json.h"
#include "core/utf8.h"

namespace deepseek {

using tokenizer::AddedTokenMatcher;
using tokenizer::Bpe;
using tokenizer::BpeScratch;
using tokenizer::TokenMatch;

namespace {

enum TokenFlags : uint8_t { kIsToken = 1, kIsAdded = 2, kIsSpecial = 4 };

// Working memory of one Encode call, so that the per-piece work does not allocate.
struct EncodeScratch {
  BpeScratch bpe;
  std::vector<TokenMatch> raw_matches;
  std::vector<TokenMatch> normalized_matches;
};

}  // namespace

struct Tokenizer::Impl {
  std::unordered_map<std::string, int32_t> vocab;        // byte-level text -> id
  std::unordered_map<std::string, int32_t> added;        // added-token text -> id
  std::string bytes;                                     // every token's raw bytes, back to back
  std::vector<uint32_t> offsets;                         // id -> its bytes: [offsets[id], offsets[id + 1])
  std::vector<uint8_t> flags;                            // id -> TokenFlags
  AddedTokenMatcher raw_tokens;                          // added tokens with normalized: false
  AddedTokenMatcher normalized_tokens;                   // added tokens with normalized: true
  std::unique_ptr<Bpe> bpe;

  explicit Impl(tokenizer::TokenizerSpec spec);

  std::string_view Bytes(int32_t id) const {
    return std::string_view(bytes).substr(offsets[static_cast<size_t>(id)],
                                          offsets[static_cast<size_t>(id) + 1] - offsets[static_cast<size_t>(id)]);
  }
  bool IsToken(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < flags.size() && (flags[static_cast<size_t>(id)] & kIsToken) != 0;
  }

  void Encode(std::string_view text, std::vector<int32_t>& ids, EncodeScratch& s) const;
  template <typename Stretch>
  static void SplitAt(const AddedTokenMatcher& tokens, std::string_view text, std::vector<TokenMatch>& matches,
                      std::vector<int32_t>& ids, Stretch&& stretch);
  void EncodeWords(std::string_view text, std::vector<int32_t>& ids, EncodeScratch& s) const;
};

Tokenizer::Impl::Impl(tokenizer::TokenizerSpec spec) {
  const size_t n = static_cast<size_t>(spec.vocab_size);
  std::vector<std::string> token_bytes(n);
  flags.assign(n, 0);
  for (const auto& [text, id] : spec.vocab) {
    token_bytes[static_cast<size_t>(id)] = tokenizer::TokenTextToBytes(text);
    flags[static_cast<size_t>(id)] = kIsToken;
  }
  for (const tokenizer::AddedTokenSpec& a : spec.added) {
    token_bytes[static_cast<size_t>(a.id)] = a.content;  // added tokens decode verbatim
    flags[static_cast<size_t>(a.id)] = kIsToken | kIsAdded | (a.special ? kIsSpecial : 0);
    (a.normalized ? normalized_tokens : raw_tokens).Add(a.content, a.id);
    added.emplace(a.content, a.id);
  }
  offsets.reserve(n + 1);
  for (const std::string& b : token_bytes) {
    offsets.push_back(static_cast<uint32_t>(bytes.size()));
    bytes += b;
  }
  offsets.push_back(static_cast<uint32_t>(bytes.size()));
  bpe = std::make_unique<Bpe>(spec.byte_tokens, spec.merges);
  vocab = std::move(spec.vocab);
}

// Appends the ids of `text`: matches of `tokens` as their ids, the stretches around them
// through `stretch`.
template <typename Stretch>
void Tokenizer::Impl::SplitAt(const AddedTokenMatcher& tokens, std::string_view text, std::vector<TokenMatch>& matches,
                              std::vector<int32_t>& ids, Stretch&& stretch) {
  matches.clear();
  tokens.FindAll(text, matches);
  size_t pos = 0;
  for (const TokenMatch& m : matches) {
    stretch(text.substr(pos, m.begin - pos));
    ids.push_back(m.id);
    pos = m.end;
  }
  stretch(text.substr(pos));
}

// Hugging Face splits out the non-normalized added tokens on the raw text, then the normalized
// ones inside the remaining stretches (DeepSeek's normalizer is empty, so only the order
// matters). Each stretch between matches is pre-tokenized and encoded on its own.
void Tokenizer::Impl::Encode(std::string_view text, std::vector<int32_t>& ids, EncodeScratch& s) const {
  SplitAt(raw_tokens, text, s.raw_matches, ids, [&](std::string_view stretch) {
    SplitAt(normalized_tokens, stretch, s.normalized_matches, ids,
            [&](std::string_view words) { EncodeWords(words, ids, s); });
  });
}

void Tokenizer::Impl::EncodeWords(std::string_view text, std::vector<int32_t>& ids, EncodeScratch& s) const {
  tokenizer::PreTokenize(text, [&](std::string_view piece) { bpe->Encode(piece, ids, s.bpe); });
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

Result<std::shared_ptr<const Tokenizer>> Tokenizer::FromJson(std::string_view json, const std::string& name) {
  std::shared_ptr<const Tokenizer> result;
  const Status st = CatchAll([&] {
    auto impl = std::make_unique<Impl>(tokenizer::ParseTokenizerJson(json, name));
    result.reset(new Tokenizer(std::move(impl)));
  });
  if (!st.ok()) return st;
  return result;
}

Result<std::shared_ptr<const Tokenizer>> Tokenizer::Load(const std::string& path) {
  std::string text;
  std::string file = path;
  const Status st = CatchAll([&] {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) file = (std::filesystem::path(path) / "tokenizer.json").string();
    if (!std::filesystem::exists(file, ec)) Fail(StatusCode::kNotFound, file + ": no such file");
    std::ifstream in(file, std::ios::binary);
    if (!in.is_open()) Fail(StatusCode::kIoError, file + ": cannot open");
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) Fail(StatusCode::kIoError, file + ": cannot read");
    text = std::move(buffer).str();
  });
  if (!st.ok()) return st;
  return FromJson(text, file);
}

Result<std::vector<int32_t>> Tokenizer::Encode(std::string_view text) const {
  std::vector<int32_t> ids;
  const Status st = CatchAll([&] {
    const size_t bad = FirstInvalidUtf8(text);
    if (bad != text.size()) {
      Fail(StatusCode::kInvalidArgument, "Tokenizer::Encode: invalid UTF-8 at byte offset " + std::to_string(bad));
    }
    EncodeScratch scratch;
    // Byte-level BPE rarely gives more than one token per 3 bytes of text.
    ids.reserve(text.size() / 3 + 8);
    impl_->Encode(text, ids, scratch);
  });
  if (!st.ok()) return st;
  return ids;
}

Result<std::string> Tokenizer::Decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::string text;
  const Status st = CatchAll([&] {
    // Skipped tokens are dropped before the bytes are joined, so a character split around one
    // still decodes, as in Hugging Face.
    std::string bytes;
    for (size_t i = 0; i < ids.size(); ++i) {
      const int32_t id = ids[i];
      if (!impl_->IsToken(id)) {
        Fail(StatusCode::kInvalidArgument, "Tokenizer::Decode: ids[" + std::to_string(i) + "] = " + std::to_string(id) +
                                               " is not a token id (vocab_size " + std::to_string(vocab_size()) + ")");
      }
      if (skip_special_tokens && (impl_->flags[static_cast<size_t>(id)] & kIsSpecial) != 0) continue;
      bytes += impl_->Bytes(id);
    }
    text.reserve(bytes.size());
    AppendUtf8Lossy(bytes, text);
  });
  if (!st.ok()) return st;
  return text;
}

std::string Tokenizer::TokenBytes(int32_t id) const {
  return impl_->IsToken(id) ? std::string(impl_->Bytes(id)) : std::string();
}

std::optional<int32_t> Tokenizer::TokenId(std::string_view token_text) const {
  const std::string key(token_text);
  if (const auto it = impl_->added.find(key); it != impl_->added.end()) return it->second;
  if (const auto it = impl_->vocab.find(key); it != impl_->vocab.end()) return it->second;
  return std::nullopt;
}

bool Tokenizer::IsSpecial(int32_t id) const {
  return impl_->IsToken(id) && (impl_->flags[static_cast<size_t>(id)] & kIsSpecial) != 0;
}

bool Tokenizer::IsAdded(int32_t id) const {
  return impl_->IsToken(id) && (impl_->flags[static_cast<size_t>(id)] & kIsAdded) != 0;
}

int64_t Tokenizer::vocab_size() const { return static_cast<int64_t>(impl_->flags.size()); }

TokenStreamDecoder::TokenStreamDecoder(std::shared_ptr<const Tokenizer> tokenizer) : tokenizer_(std::move(tokenizer)) {}

Result<std::string> TokenStreamDecoder::Push(int32_t id) {
  // Every token has at least one byte (the loader refuses empty ones), so empty means "no token".
  const std::string bytes = tokenizer_->TokenBytes(id);
  if (bytes.empty()) {
    return Status(StatusCode::kInvalidArgument, "TokenStreamDecoder::Push: " + std::to_string(id) +
                                                    " is not a token id (vocab_size " +
                                                    std::to_string(tokenizer_->vocab_size()) + ")");
  }
  pending_ += bytes;
  // Emit every complete character; a sequence that can no longer become valid is U+FFFD now,
  // and only a tail that may still complete waits for the next token.
  const size_t done = pending_.size() - IncompleteUtf8Tail(pending_);
  std::string text;
  AppendUtf8Lossy(std::string_view(pending_).substr(0, done), text);
  pending_.erase(0, done);
  return text;
}

std::string TokenStreamDecoder::Finish() {
  std::string text;
  AppendUtf8Lossy(pending_, text);
  pending_.clear();
  return text;
}

void TokenStreamDecoder::Reset() { pending_.clear(); }

}  // namespace deepseek

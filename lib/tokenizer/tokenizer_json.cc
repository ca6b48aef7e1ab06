#include "tokenizer/tokenizer_json.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_text.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pre_tokenizer.h"
#include "core/utf8.h"

namespace deepseek::tokenizer {
namespace {

using Json = nlohmann::json;

std::string Quote(std::string_view s) {
  constexpr size_t kMaxChars = 60;
  const std::string text = Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
  return text.size() > kMaxChars ? text.substr(0, kMaxChars) + "...\"" : text;
}

// Field access that names the file and the JSON path in every error.
class Reader {
 public:
  explicit Reader(const std::string& name) : name_(name) {}

  [[noreturn]] void Corrupt(const std::string& path, const std::string& what) const {
    Fail(StatusCode::kCorruptFile, name_ + ": " + path + ": " + what);
  }
  [[noreturn]] void Unsupported(const std::string& path, const std::string& what) const {
    Fail(StatusCode::kUnsupported, name_ + ": " + path + ": " + what);
  }

  // obj[key], which must exist.
  const Json& Required(const Json& obj, const std::string& path, const char* key) const {
    const auto it = obj.find(key);
    if (it == obj.end()) Corrupt(path, std::string("missing field \"") + key + "\"");
    return *it;
  }
  // obj[key], or nullptr when absent.
  static const Json* Optional(const Json& obj, const char* key) {
    const auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
  }
  const Json& Object(const Json& obj, const std::string& path, const char* key) const {
    const Json& v = Required(obj, path, key);
    if (!v.is_object()) Corrupt(Join(path, key), std::string("expected an object, found ") + v.type_name());
    return v;
  }
  const std::string& String(const Json& v, const std::string& path) const {
    if (!v.is_string()) Corrupt(path, std::string("expected a string, found ") + v.type_name());
    const std::string& s = v.get_ref<const std::string&>();
    if (FirstInvalidUtf8(s) != s.size()) Corrupt(path, "not valid UTF-8");
    return s;
  }
  bool Bool(const Json* v, const std::string& path, bool if_absent) const {
    if (v == nullptr) return if_absent;
    if (!v->is_boolean()) Corrupt(path, std::string("expected true or false, found ") + v->type_name());
    return v->get<bool>();
  }
  int32_t Id(const Json& v, const std::string& path) const {
    if (!v.is_number_integer()) Corrupt(path, std::string("expected an integer token id, found ") + v.type_name());
    const int64_t id = v.is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(v.get<uint64_t>(), kMaxTokenId + 1))
                                              : v.get<int64_t>();
    if (id < 0 || id > kMaxTokenId) Corrupt(path, "token id " + v.dump() + " is outside [0, " + std::to_string(kMaxTokenId) + "]");
    return static_cast<int32_t>(id);
  }
  // Fails unless obj[key] is absent or equal to one of `allowed`.
  void Expect(const Json& obj, const std::string& path, const char* key, std::initializer_list<Json> allowed) const {
    const Json* v = Optional(obj, key);
    if (v == nullptr) return;
    for (const Json& a : allowed) {
      if (*v == a) return;
    }
    Unsupported(Join(path, key), "value " + v->dump() + " is not supported");
  }

  static std::string Join(const std::string& path, const char* key) { return path.empty() ? key : path + "." + key; }
  static std::string Index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

 private:
  const std::string& name_;
};

void CheckNormalizer(const Json& root, const Reader& r) {
  const Json* n = Reader::Optional(root, "normalizer");
  if (n == nullptr || n->is_null()) return;
  const Json* list = n->is_object() ? Reader::Optional(*n, "normalizers") : nullptr;
  if (n->value("type", Json()) != "Sequence" || list == nullptr || !list->is_array() || !list->empty()) {
    r.Unsupported("normalizer", "only an empty normalizer is supported (DeepSeek's has none), found " + n->dump().substr(0, 80));
  }
}

void CheckPreTokenizer(const Json& root, const Reader& r) {
  const char* kPath = "pre_tokenizer";
  const std::string expected =
      "a Sequence of the Splits \\p{N}{1,3}, the CJK/kana ranges and DeepSeek's word pattern (Isolated), "
      "then ByteLevel without prefix space or regex";
  const Json& pre = r.Required(root, "", kPath);
  const Json* list = pre.is_object() ? Reader::Optional(pre, "pretokenizers") : nullptr;
  if (!pre.is_object() || pre.value("type", Json()) != "Sequence" || list == nullptr || !list->is_array() ||
      list->size() != 4) {
    r.Unsupported(kPath, "expected " + expected);
  }
  const std::string_view patterns[3] = {kSplitDigits, kSplitCjk, kSplitWords};
  for (size_t i = 0; i < 3; ++i) {
    const std::string path = Reader::Index("pre_tokenizer.pretokenizers", i);
    const Json& split = (*list)[i];
    const Json* pattern = split.is_object() ? Reader::Optional(split, "pattern") : nullptr;
    const bool ok = split.is_object() && split.value("type", Json()) == "Split" && pattern != nullptr &&
                    pattern->is_object() && pattern->size() == 1 && pattern->value("Regex", Json()) == std::string(patterns[i]) &&
                    split.value("behavior", Json()) == "Isolated" && split.value("invert", Json(false)) == false;
    if (!ok) r.Unsupported(path, "expected " + expected + "; found " + split.dump().substr(0, 120));
  }
  const Json& byte_level = (*list)[3];
  const std::string path = Reader::Index("pre_tokenizer.pretokenizers", 3);
  if (!byte_level.is_object() || byte_level.value("type", Json()) != "ByteLevel") r.Unsupported(path, "expected " + expected);
  r.Expect(byte_level, path, "add_prefix_space", {false});
  r.Expect(byte_level, path, "use_regex", {false});
}

void CheckDecoder(const Json& root, const Reader& r) {
  const Json& decoder = r.Required(root, "", "decoder");
  if (!decoder.is_object() || decoder.value("type", Json()) != "ByteLevel") {
    r.Unsupported("decoder", "only the ByteLevel decoder is supported");
  }
}

void ReadVocab(const Json& model, const Reader& r, TokenizerSpec& spec) {
  const Json& vocab = r.Object(model, "model", "vocab");
  std::vector<bool> used;
  spec.vocab.reserve(vocab.size());
  for (const auto& [text, value] : vocab.items()) {
    const std::string path = "model.vocab[" + Quote(text) + "]";
    if (text.empty()) r.Corrupt("model.vocab", "empty token text");
    if (FirstInvalidUtf8(text) != text.size()) r.Corrupt("model.vocab", "a token text is not valid UTF-8");
    const int32_t id = r.Id(value, path);
    if (static_cast<size_t>(id) >= used.size()) used.resize(static_cast<size_t>(id) + 1);
    if (used[static_cast<size_t>(id)]) r.Corrupt(path, "id " + std::to_string(id) + " is used by two tokens");
    used[static_cast<size_t>(id)] = true;
    spec.vocab.emplace(text, id);
    spec.vocab_size = std::max(spec.vocab_size, id + 1);
  }
  for (int b = 0; b < 256; ++b) {
    std::string text;
    AppendUtf8(ByteToCodePoint(static_cast<uint8_t>(b)), text);
    const auto it = spec.vocab.find(text);
    if (it == spec.vocab.end()) {
      r.Corrupt("model.vocab", "no token for byte " + std::to_string(b) + " (" + Quote(text) +
                                   "); byte-level BPE needs all 256");
    }
    spec.byte_tokens[static_cast<size_t>(b)] = it->second;
  }
}

void ReadMerges(const Json& model, const Reader& r, TokenizerSpec& spec) {
  const Json& merges = r.Required(model, "model", "merges");
  if (!merges.is_array()) r.Corrupt("model.merges", std::string("expected an array, found ") + merges.type_name());
  spec.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string path = Reader::Index("model.merges", i);
    const Json& m = merges[i];
    // Two spellings exist: "left right" (older files) and ["left", "right"].
    std::string left, right;
    if (m.is_string()) {
      const std::string& s = r.String(m, path);
      const size_t space = s.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == s.size() || s.find(' ', space + 1) != std::string::npos) {
        r.Corrupt(path, "expected \"left right\", found " + Quote(s));
      }
      left = s.substr(0, space);
      right = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2) {
      left = r.String(m[0], Reader::Index(path, 0));
      right = r.String(m[1], Reader::Index(path, 1));
    } else {
      r.Corrupt(path, "expected a string \"left right\" or an array [left, right], found " + m.dump().substr(0, 80));
    }
    const auto id_of = [&](const std::string& text) {
      const auto it = spec.vocab.find(text);
      if (it == spec.vocab.end()) r.Corrupt(path, Quote(text) + " is not in model.vocab");
      return it->second;
    };
    spec.merges.push_back({id_of(left), id_of(right), id_of(left + right)});
  }
}

void ReadModel(const Json& root, const Reader& r, TokenizerSpec& spec) {
  const Json& model = r.Object(root, "", "model");
  const Json& type = r.Required(model, "model", "type");
  if (type != "BPE") r.Unsupported("model.type", "only BPE is supported, found " + type.dump());
  // Options that would change the result; DeepSeek uses none of them.
  r.Expect(model, "model", "dropout", {nullptr});
  r.Expect(model, "model", "continuing_subword_prefix", {nullptr, ""});
  r.Expect(model, "model", "end_of_word_suffix", {nullptr, ""});
  r.Expect(model, "model", "byte_fallback", {false});
  r.Expect(model, "model", "ignore_merges", {false});
  ReadVocab(model, r, spec);
  ReadMerges(model, r, spec);
}

void ReadAddedTokens(const Json& root, const Reader& r, TokenizerSpec& spec) {
  const Json* added = Reader::Optional(root, "added_tokens");
  if (added == nullptr || added->is_null()) return;
  if (!added->is_array()) r.Corrupt("added_tokens", std::string("expected an array, found ") + added->type_name());
  std::vector<std::string> vocab_text(static_cast<size_t>(spec.vocab_size));
  for (const auto& [text, id] : spec.vocab) vocab_text[static_cast<size_t>(id)] = text;
  std::unordered_map<int32_t, size_t> by_id;
  std::unordered_map<std::string, size_t> by_content;
  for (size_t i = 0; i < added->size(); ++i) {
    const std::string path = Reader::Index("added_tokens", i);
    const Json& t = (*added)[i];
    if (!t.is_object()) r.Corrupt(path, std::string("expected an object, found ") + t.type_name());
    AddedTokenSpec a;
    // The id field is authoritative (Hugging Face's Rust library renumbers instead; see
    // ../shared/tokenizer/deepseek-v4/README.md).
    a.id = r.Id(r.Required(t, path, "id"), path + ".id");
    a.content = r.String(r.Required(t, path, "content"), path + ".content");
    if (a.content.empty()) r.Corrupt(path + ".content", "empty token text");
    a.special = r.Bool(Reader::Optional(t, "special"), path + ".special", false);
    a.normalized = r.Bool(Reader::Optional(t, "normalized"), path + ".normalized", !a.special);
    for (const char* flag : {"lstrip", "rstrip", "single_word"}) {
      if (r.Bool(Reader::Optional(t, flag), path + "." + flag, false)) {
        r.Unsupported(path + "." + flag, "added tokens that absorb surrounding text are not supported");
      }
    }
    if (!by_id.emplace(a.id, i).second) {
      r.Corrupt(path + ".id", "id " + std::to_string(a.id) + " also belongs to added_tokens[" + std::to_string(by_id[a.id]) + "]");
    }
    if (!by_content.emplace(a.content, i).second) {
      r.Corrupt(path + ".content", Quote(a.content) + " also appears as added_tokens[" + std::to_string(by_content[a.content]) + "]");
    }
    // DeepSeek lists BOS, EOS and pad in both tables; that is fine as long as they agree.
    if (static_cast<size_t>(a.id) < vocab_text.size() && !vocab_text[static_cast<size_t>(a.id)].empty() &&
        vocab_text[static_cast<size_t>(a.id)] != a.content) {
      r.Corrupt(path + ".id", "id " + std::to_string(a.id) + " is " + Quote(vocab_text[static_cast<size_t>(a.id)]) +
                                  " in model.vocab but " + Quote(a.content) + " here");
    }
    spec.vocab_size = std::max(spec.vocab_size, a.id + 1);
    spec.added.push_back(std::move(a));
  }
}

}  // namespace

TokenizerSpec ParseTokenizerJson(std::string_view json, const std::string& name) {
  const Json root = ParseJsonObject(json, name);
  const Reader r(name);
  TokenizerSpec spec;
  ReadModel(root, r, spec);
  CheckNormalizer(root, r);
  CheckPreTokenizer(root, r);
  CheckDecoder(root, r);
  ReadAddedTokens(root, r, spec);
  return spec;
}

}  // namespace deepseek::tokenizer

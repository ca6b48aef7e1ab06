#include "runtime/engram_token_map_file.h"

#include <filesystem>
#include <string_view>

#include "core/error.h"
#include "core/mapped_file.h"
#include "deepseek/tokenizer.h"
#include "format/section_file.h"
#include "model/engram_hash.h"
#include "tokenizer/engram_token_map.h"

namespace deepseek::runtime {
namespace {

constexpr std::string_view kMagic = "DSENGMAP";
constexpr uint32_t kVersion = 1;
constexpr uint32_t kIdsSection = 1;

format::SectionFileId FileId(const format::Fingerprint& tokenizer) { return {kMagic, kVersion, tokenizer, "deepseek"}; }

// The fingerprint of a map shipped without a tokenizer: none of a tokenizer's can be all zeros
// by chance.
constexpr format::Fingerprint kShipped{};

void Write(const std::string& path, std::span<const int32_t> ids, const format::Fingerprint& fingerprint) {
  format::ByteWriter w;
  w.Array<int32_t>(ids);
  format::SectionWriter file;
  file.Add(kIdsSection, w.Take());
  format::WriteFileAtomically(path, file.Finish(FileId(fingerprint)));
}

// The cached ids, when the file is there, sound, of this tokenizer and of this config's shape.
bool ReadCache(const std::string& path, const format::Fingerprint& tokenizer, const ModelConfig& c, EngramTokenMapLoad& out) {
  MappedFile file;
  try {
    file = MappedFile::Open(path);
  } catch (const Error&) {
    out.cache_note = "no cache yet";
    return false;
  }
  try {
    const auto sections = format::ParseSectionFile({file.data(), file.size()}, FileId(tokenizer), path);
    if (sections.size() != 1 || sections[0].tag != kIdsSection) Fail(StatusCode::kCorruptFile, path + ": unexpected sections");
    format::ByteReader r(sections[0].payload, path);
    std::vector<int32_t> ids = r.Array<int32_t>(c.vocab_size);
    r.ExpectEnd();
    model::CheckEngramTokenMap(ids, c, path);
    out.ids = std::move(ids);
    out.from_cache = true;
    return true;
  } catch (const Error& e) {
    out.cache_note = std::string("cache not used: ") + e.what();
    return false;
  }
}

}  // namespace

EngramTokenMapLoad LoadEngramTokenMap(const std::string& dir, const ModelConfig& c) {
  const std::string tokenizer_path = dir + "/tokenizer.json";
  const std::string cache = dir + "/" + kEngramTokenMapFile;
  if (!std::filesystem::exists(tokenizer_path)) {
    EngramTokenMapLoad shipped;
    if (ReadCache(cache, kShipped, c, shipped)) return shipped;
    Fail(StatusCode::kNotFound, "Engram's token map is built from " + tokenizer_path + ", which is missing, or read from " + cache +
                                    " shipped without it (" + shipped.cache_note + ")");
  }
  const MappedFile tokenizer_file = MappedFile::Open(tokenizer_path);
  const format::Fingerprint fingerprint = format::FingerprintOf({tokenizer_file.data(), tokenizer_file.size()});
  EngramTokenMapLoad out;
  if (ReadCache(cache, fingerprint, c, out)) return out;

  Result<std::shared_ptr<const Tokenizer>> tokenizer = Tokenizer::FromJson(
      std::string_view(reinterpret_cast<const char*>(tokenizer_file.data()), tokenizer_file.size()), tokenizer_path);
  if (!tokenizer.ok()) Fail(tokenizer.status().code(), tokenizer.status().message());
  const tokenizer::EngramTokenMap map = tokenizer::BuildEngramTokenMap(*tokenizer.value());
  if (map.size != c.engram.compressed_vocab) {
    Fail(StatusCode::kInvalidConfig, dir + "/config.json: engram_compressed_vocab_size is " + std::to_string(c.engram.compressed_vocab) +
                                         " but " + tokenizer_path + " compresses to " + std::to_string(map.size) + " ids");
  }
  if (static_cast<int64_t>(map.ids.size()) > c.vocab_size) {
    Fail(StatusCode::kInvalidConfig, tokenizer_path + " has " + std::to_string(map.ids.size()) + " ids, more than vocab_size " +
                                         std::to_string(c.vocab_size));
  }
  out.ids = map.ids;
  const int32_t pad = c.pad_token_id < static_cast<int32_t>(map.ids.size()) ? map.ids[static_cast<size_t>(c.pad_token_id)] : 0;
  out.ids.resize(static_cast<size_t>(c.vocab_size), pad);

  try {
    Write(cache, out.ids, fingerprint);
    out.cache_note.clear();
  } catch (const Error& e) {
    out.cache_note = std::string("cache not written: ") + e.what();
  }
  return out;
}

void WriteShippedEngramTokenMap(const std::string& dir, std::span<const int32_t> ids, const ModelConfig& c) {
  model::CheckEngramTokenMap(ids, c, "the shipped Engram token map");
  Write(dir + "/" + kEngramTokenMapFile, ids, kShipped);
}

}  // namespace deepseek::runtime

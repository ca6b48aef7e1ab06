#include "runtime/sequence_file.h"

#include <filesystem>

#include "core/error.h"
#include "core/mapped_file.h"
#include "deepseek/version.h"
#include "model/state_codec.h"

namespace deepseek {
namespace {

constexpr uint32_t kRuntimeSection = model::SectionTag("RUNT");

format::SectionFileId FileId(const format::Fingerprint& model) {
  return {"DSKVSEQ1", kSequenceFileVersion, model, DS_VERSION_STRING};
}

}  // namespace

void SaveSequenceFile(const std::string& path, const SequenceRecord& record, const format::Fingerprint& model,
                      backend::Stream& stream) {
  format::SectionWriter writer;
  model::EncodeState(record.state, stream, writer);
  format::ByteWriter runtime;
  runtime.Array<float>(record.logits);
  runtime.U32(static_cast<uint32_t>(record.mtp_expected));
  runtime.U8(record.mtp_diverged);
  writer.Add(kRuntimeSection, runtime.Take());
  format::WriteFileAtomically(path, writer.Finish(FileId(model)));
}

SequenceRecord LoadSequenceFile(const std::string& path, const ModelConfig& config, const format::Fingerprint& model,
                                std::shared_ptr<const model::KvPools> pools, backend::Stream& stream) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) Fail(StatusCode::kNotFound, "saved sequence '" + path + "' does not exist");
  const MappedFile file = MappedFile::Open(path);
  return DecodeSequenceFile({file.data(), file.size()}, config, model, std::move(pools), stream, path);
}

SequenceRecord DecodeSequenceFile(std::span<const uint8_t> bytes, const ModelConfig& config,
                                  const format::Fingerprint& model, std::shared_ptr<const model::KvPools> pools,
                                  backend::Stream& stream, const std::string& what) {
  const std::vector<format::Section> sections = format::ParseSectionFile(bytes, FileId(model), what);
  const format::Section* runtime = nullptr;
  for (const format::Section& s : sections) {
    if (s.tag != kRuntimeSection) continue;
    if (runtime) Fail(StatusCode::kCorruptFile, what + ": two runtime sections");
    runtime = &s;
  }
  if (!runtime) Fail(StatusCode::kCorruptFile, what + ": no runtime section");
  SequenceRecord record{model::DecodeState(sections, config, std::move(pools), stream, what), {}, -1, false};
  format::ByteReader r(runtime->payload, what + ", runtime section");
  record.logits = r.Array<float>();
  if (!record.logits.empty() && record.logits.size() != static_cast<size_t>(config.vocab_size)) {
    Fail(StatusCode::kCorruptFile, r.what() + ": " + std::to_string(record.logits.size()) + " logits for a vocabulary of " +
                                       std::to_string(config.vocab_size));
  }
  record.mtp_expected = static_cast<int32_t>(r.U32());
  if (record.mtp_expected < -1 || record.mtp_expected >= config.vocab_size) {
    Fail(StatusCode::kCorruptFile, r.what() + ": token " + std::to_string(record.mtp_expected) + " is outside the vocabulary");
  }
  const uint8_t diverged = r.U8();
  if (diverged > 1) Fail(StatusCode::kCorruptFile, r.what() + ": the MTP flag is not 0 or 1");
  record.mtp_diverged = diverged == 1;
  r.ExpectEnd();
  return record;
}

}  // namespace deepseek

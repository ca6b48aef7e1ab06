// A session's sequence saved to a file and loaded in another process: the model's sections
// (model/state_codec.h) plus the last logits and the MTP bookkeeping, in a checksummed section
// file (format/section_file.h) that names the model by its checkpoint's fingerprint and the
// library version that wrote it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "format/section_file.h"
#include "model/state.h"

namespace deepseek {

// Everything a session's sequence is, beyond the model it runs on.
struct SequenceRecord {
  model::SequenceState state;
  std::vector<float> logits;
  int32_t mtp_expected = -1;
  bool mtp_diverged = false;
};

inline constexpr uint32_t kSequenceFileVersion = 1;

void SaveSequenceFile(const std::string& path, const SequenceRecord& record, const format::Fingerprint& model,
                      backend::Stream& stream);
// Reads and checks the file at `path` (kNotFound when absent); see DecodeSequenceFile.
SequenceRecord LoadSequenceFile(const std::string& path, const ModelConfig& config, const format::Fingerprint& model,
                                std::shared_ptr<const model::KvPools> pools, backend::Stream& stream);
// The record saved in `bytes`, with its rows in `pools`. Throws Error naming `what` and the
// cause: kCorruptFile (truncated, checksum, inconsistent counts), kInvalidArgument (another
// model), kUnsupported (another format version).
SequenceRecord DecodeSequenceFile(std::span<const uint8_t> bytes, const ModelConfig& config,
                                  const format::Fingerprint& model, std::shared_ptr<const model::KvPools> pools,
                                  backend::Stream& stream, const std::string& what);

}  // namespace deepseek

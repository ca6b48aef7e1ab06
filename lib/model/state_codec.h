// A sequence's state as sections of a saved file (format/section_file.h): positions, tokens,
// the MTP streams, per layer the open compressor blocks (fp32) and the caches' rows in their
// packed formats, each table with its row layout so a file can only load into pools of the
// same formats. Decoding checks every count against the model's config before it builds.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "backends/backend.h"
#include "format/section_file.h"
#include "model/state.h"

namespace deepseek::model {

constexpr uint32_t SectionTag(const char (&name)[5]) {
  return static_cast<uint32_t>(static_cast<uint8_t>(name[0])) | static_cast<uint32_t>(static_cast<uint8_t>(name[1])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(name[2])) << 16 | static_cast<uint32_t>(static_cast<uint8_t>(name[3])) << 24;
}
inline constexpr uint32_t kSequenceSection = SectionTag("SEQS");
inline constexpr uint32_t kLayerSection = SectionTag("LAYR");

void EncodeState(const SequenceState& state, backend::Stream& stream, format::SectionWriter& out);

// The state the kSequenceSection and kLayerSection sections of `sections` describe (others are
// skipped), with its rows in `pools`. Throws Error(kCorruptFile) naming `what`, the section and
// the field when anything disagrees with `config`.
SequenceState DecodeState(std::span<const format::Section> sections, const ModelConfig& config,
                          std::shared_ptr<const KvPools> pools, backend::Stream& stream, const std::string& what);

}  // namespace deepseek::model

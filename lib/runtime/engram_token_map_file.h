// V4.1's Engram token map for a checkpoint folder: built from its tokenizer.json as the
// reference builds it (tokenizer/engram_token_map.h; a few seconds for the real vocabulary),
// then cached beside the model in engram_token_map.bin, a section file fingerprinted by the
// tokenizer's bytes, so later loads read it instead.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "deepseek/config.h"

namespace deepseek::runtime {

inline constexpr const char* kEngramTokenMapFile = "engram_token_map.bin";

struct EngramTokenMapLoad {
  std::vector<int32_t> ids;  // [config.vocab_size]: each token id's compressed id
  bool from_cache = false;   // read from the file rather than built (a cache, or a shipped map)
  std::string cache_note;    // why the cache was not used or not written (empty when it was)
};

// The map for the model in `dir` with `config` (a V4.1 config with Engram). Ids the tokenizer
// does not have (the model's vocabulary may be padded) take the compressed pad id. A cache
// file that is damaged or made from another tokenizer is rebuilt; a folder that cannot be
// written only costs the rebuild at the next load. A folder without tokenizer.json may ship the
// map itself (WriteShippedEngramTokenMap). Throws Error naming the file or field: neither
// tokenizer.json nor a shipped map, or a map whose size disagrees with
// engram_compressed_vocab_size.
EngramTokenMapLoad LoadEngramTokenMap(const std::string& dir, const ModelConfig& config);

// Writes `ids` ([config.vocab_size], each below engram_compressed_vocab_size) as the map of the
// model in `dir`, for a folder without tokenizer.json (the spec's "map as data"; the golden
// checkpoints ship a stand-in vocabulary instead of a tokenizer). Throws Error(kInvalidArgument)
// for ids that do not fit the config, Error(kIoError) when the file cannot be written.
void WriteShippedEngramTokenMap(const std::string& dir, std::span<const int32_t> ids, const ModelConfig& config);

}  // namespace deepseek::runtime

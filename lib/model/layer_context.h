// What every block function receives about the chunk being processed.
#pragma once

#include <cstdint>
#include <span>

#include "backends/backend.h"
#include "deepseek/config.h"
#include "model/observer.h"

namespace deepseek::model {

struct RopeTables;

struct ChunkContext {
  const ModelConfig& config;
  backend::Stream& stream;
  ForwardObserver* observer;          // may be null
  const RopeTables& rope;
  std::span<const int32_t> tokens;    // the chunk's token ids
  std::span<const int64_t> positions; // their absolute positions (consecutive)
  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
};

}  // namespace deepseek::model

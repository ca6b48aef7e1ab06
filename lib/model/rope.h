// Rotary frequencies of V4: window-only layers use rope_theta without YaRN; compressed layers
// use compress_rope_theta with YaRN frequency interpolation (no mscale), as the reference does.
#pragma once

#include <span>
#include <vector>

#include "deepseek/config.h"

namespace deepseek::model {

struct RopeTables {
  std::vector<float> window_only;  // [rope_dim / 2]
  std::vector<float> compressed;   // [rope_dim / 2]
  std::span<const float> ForRatio(int ratio) const { return ratio ? compressed : window_only; }
};

RopeTables MakeRopeTables(const ModelConfig& config);

}  // namespace deepseek::model

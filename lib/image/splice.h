// Image spans in the token sequence (the reference's prepare_vl_inputs, spec §8.12): every
// image placeholder id expands to its image's span — start, llm_h rows of llm_w IMAGE positions
// and a NEWLINE, end — each position keeping the placeholder id; the token types tell them
// apart, and the span start says where the aligner rows go.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "image/image_grid.h"

namespace deepseek::image {

inline constexpr int8_t kTextToken = -1;  // the token type of text positions

struct SplicedPrompt {
  std::vector<int32_t> tokens;  // the expanded ids
  std::vector<int8_t> types;    // kTextToken, or a SpanToken value
  std::vector<int64_t> starts;  // per image: the position of its span's start token
};

// Expands the placeholders of `ids` in order, one grid each. Throws Error(kInvalidArgument) when
// the number of placeholders differs from the number of grids.
SplicedPrompt SpliceImages(std::span<const int32_t> ids, int32_t image_token_id, std::span<const ImageGrid> grids);

}  // namespace deepseek::image

// How V4.1 sizes an image (the reference's image_processor.plan_image_grid, spec §8.11): the
// pixel size it is padded or resized to, the ViT patch grid and the language model's token grid
// after the aligner's k × k merge, within the config's token budget.
#pragma once

#include <cstdint>
#include <vector>

#include "deepseek/config.h"

namespace deepseek::image {

struct ImageGrid {
  int64_t height = 0, width = 0;  // pixels after padding or resizing (multiples of the patch)
  int64_t vit_h = 0, vit_w = 0;   // ViT patches
  int64_t llm_h = 0, llm_w = 0;   // language-model image tokens (rows, columns)
  // Positions of the span in the token sequence: start, llm_h rows of llm_w IMAGE tokens and a
  // NEWLINE, end.
  int64_t span_tokens() const { return llm_h * (llm_w + 1) + 2; }
};

// The plan for an image of width × height pixels (both >= 1), with the reference's arithmetic
// (Python floats where it uses them, so the same sizes come out). Throws Error(kInvalidArgument)
// for an empty image or a vision config without patches.
ImageGrid PlanImageGrid(int64_t width, int64_t height, const VisionConfig& vision);

// What each position of an image span is (the reference's token types, reading order).
enum class SpanToken : int8_t { kStart = 0, kImage = 1, kNewline = 2, kEnd = 3 };
std::vector<SpanToken> ImageSpanTokens(const ImageGrid& grid);

}  // namespace deepseek::image
